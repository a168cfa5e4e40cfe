using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Relay.Broker.Persistence;

/// <summary>snake_case names for columns, keys, foreign keys and indexes (tables are named in each configuration).</summary>
internal static class SnakeCase
{
    /// <summary><c>WaitingForInput</c> → <c>waiting_for_input</c>, <c>HTTPHook</c> → <c>http_hook</c>.</summary>
    public static string From(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var endsAcronym = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (previousIsLowerOrDigit || endsAcronym)
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// Names every column not named explicitly (PostgreSQL's xmin keeps its name), and every primary key, foreign key
    /// and index, in snake_case. Call after all entity configurations.
    /// </summary>
    public static void ApplySnakeCaseNames(this ModelBuilder modelBuilder)
    {
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            var table = entity.GetTableName()
                ?? throw new InvalidOperationException($"{entity.DisplayName()} has no table name; name it in its configuration.");

            foreach (var property in entity.GetProperties())
            {
                if (((IConventionProperty)property).GetColumnNameConfigurationSource() is null)
                {
                    property.SetColumnName(From(property.Name));
                }
            }

            entity.FindPrimaryKey()?.SetName($"pk_{table}");

            foreach (var foreignKey in entity.GetForeignKeys())
            {
                var principal = foreignKey.PrincipalEntityType.GetTableName();
                var columns = string.Join('_', foreignKey.Properties.Select(p => From(p.Name)));
                foreignKey.SetConstraintName($"fk_{table}_{principal}_{columns}");
            }

            foreach (var index in entity.GetIndexes())
            {
                var columns = string.Join('_', index.Properties.Select(p => From(p.Name)));
                index.SetDatabaseName($"{(index.IsUnique ? "ux" : "ix")}_{table}_{columns}");
            }
        }
    }
}
