using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Relay.Broker.Persistence;

/// <summary>
/// Reads whole rows of an entity's table into entities, from a reader EF did not open: a statement of its own inside an
/// <c>NpgsqlBatch</c>, so that lookups share a round trip with other statements (EF sends each query alone). The
/// columns, their conversions and the properties come from EF's model, so a property added to the entity is read here
/// too; a mapping this cannot reproduce (a shadow or field-only property, an owned type) fails when the reader is built.
/// </summary>
/// <remarks>
/// The entities come back untracked; attached (<c>DbContext.Attach</c>) they are Unchanged with these values as their
/// originals, as if EF had read them, and <c>FindAsync</c> by key finds them without a query.
/// </remarks>
internal sealed class EntityRows<T>
    where T : class
{
    private static readonly ConcurrentDictionary<IModel, EntityRows<T>> Cache = new(ReferenceEqualityComparer.Instance);
    private static readonly MethodInfo ReadTyped = typeof(EntityRows<T>).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly Column[] _columns;

    private EntityRows(IEntityType type)
    {
        if (type.GetNavigations().Any() || type.GetComplexProperties().Any() || type.GetTableName() is not { } table)
        {
            throw new NotSupportedException($"{typeof(T).Name} has navigations, complex properties or no table; EntityRows reads plain table rows only.");
        }

        var store = StoreObjectIdentifier.Table(table, type.GetSchema());
        _columns = type.GetProperties().Select(p => Describe(p, store)).ToArray();
        var names = string.Join(", ", _columns.Select(c => "t.\"" + c.Name + "\""));
        Select = $"SELECT {names} FROM \"{table}\" AS t";
    }

    /// <summary><c>SELECT</c> every mapped column <c>FROM</c> the table, aliased <c>t</c>; append a <c>WHERE</c>.</summary>
    public string Select { get; }

    /// <summary>The reader for <paramref name="model"/> (built once per model).</summary>
    public static EntityRows<T> For(IModel model) =>
        Cache.GetOrAdd(model, static m => new EntityRows<T>(m.FindEntityType(typeof(T))
            ?? throw new InvalidOperationException($"{typeof(T).Name} is not an entity of this model.")));

    /// <summary>The entity of the reader's current row, which must come from <see cref="Select"/>.</summary>
    public T Read(DbDataReader reader)
    {
        var entity = Activator.CreateInstance<T>();
        for (var i = 0; i < _columns.Length; i++)
        {
            var column = _columns[i];
            object? value = null;
            if (!reader.IsDBNull(i))
            {
                value = column.Get(reader, i);
                if (column.Converter is { } converter)
                {
                    value = converter.ConvertFromProvider(value);
                }
            }

            column.Property.SetValue(entity, value);
        }

        return entity;
    }

    private static Column Describe(IProperty property, StoreObjectIdentifier store)
    {
        if (property.PropertyInfo is not { CanWrite: true } member)
        {
            throw new NotSupportedException($"{typeof(T).Name}.{property.Name} is not a settable CLR property; EntityRows cannot read it.");
        }

        var mapping = property.GetTypeMapping();
        var converter = mapping.Converter;
        var provider = converter?.ProviderClrType ?? mapping.ClrType;
        provider = Nullable.GetUnderlyingType(provider) ?? provider;
        var get = ReadTyped.MakeGenericMethod(provider).CreateDelegate<Func<DbDataReader, int, object>>();
        var name = property.GetColumnName(store) ?? throw new NotSupportedException($"{typeof(T).Name}.{property.Name} has no column.");
        return new Column(name, member, converter, get);
    }

    private static object Read<TProvider>(DbDataReader reader, int ordinal) => reader.GetFieldValue<TProvider>(ordinal)!;

    private sealed record Column(string Name, PropertyInfo Property, ValueConverter? Converter, Func<DbDataReader, int, object> Get);
}
