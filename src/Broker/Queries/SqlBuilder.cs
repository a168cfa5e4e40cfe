using System.Text;
using Npgsql;

namespace Relay.Broker.Queries;

/// <summary>Builds one parameterised SQL statement whose WHERE clause depends on the request's filters.</summary>
internal sealed class SqlBuilder
{
    private readonly StringBuilder _sql = new();
    private readonly List<NpgsqlParameter> _parameters = [];

    public SqlBuilder(string start) => _sql.Append(start);

    /// <summary>Adds <paramref name="value"/> as a parameter and returns its placeholder (<c>$n</c>).</summary>
    public string Param<T>(T value)
    {
        _parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return "$" + _parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public SqlBuilder Append(string sql)
    {
        _sql.Append(sql);
        return this;
    }

    public NpgsqlCommand CreateCommand(NpgsqlDataSource dataSource)
    {
        var command = dataSource.CreateCommand(_sql.ToString());
        command.Parameters.AddRange(_parameters.ToArray());
        return command;
    }

    /// <summary>The statement as one command of a caller's <see cref="NpgsqlBatch"/>, sent with other reads in one round trip.</summary>
    public NpgsqlBatchCommand CreateBatchCommand()
    {
        var command = new NpgsqlBatchCommand(_sql.ToString());
        command.Parameters.AddRange(_parameters.ToArray());
        return command;
    }

    public override string ToString() => _sql.ToString();
}
