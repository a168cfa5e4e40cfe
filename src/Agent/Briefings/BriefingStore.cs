using Google.Protobuf;
using Relay.Agent.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Briefings;

/// <summary>
/// The standing briefings, by session name: the Welcome's full list, then BriefingUpdates. Kept on disk
/// (<c>&lt;state&gt;/briefings.json</c>, written atomically) so that SessionStart is answered with the briefing even
/// while the broker is away, also after an agent restart.
/// </summary>
internal sealed partial class BriefingStore
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly ILogger<BriefingStore> _logger;
    private Dictionary<string, Briefing> _byName = new(StringComparer.Ordinal);

    public BriefingStore(LocalStateDirectory state, ILogger<BriefingStore> logger)
    {
        _path = state.File("briefings.json");
        _logger = logger;
        Load();
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byName.Count;
            }
        }
    }

    /// <summary>The briefing text for a session named <paramref name="name"/>; null when it has none.</summary>
    public string? TextFor(string name)
    {
        if (name.Length == 0)
        {
            return null;
        }

        lock (_lock)
        {
            return _byName.TryGetValue(name, out var briefing) && briefing.Text.Length > 0 ? briefing.Text : null;
        }
    }

    /// <summary>Every standing briefing (Welcome.briefings) replaces what was held.</summary>
    public void Replace(IEnumerable<Briefing> briefings)
    {
        lock (_lock)
        {
            _byName = briefings.Where(b => b.Name.Length > 0).GroupBy(b => b.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
            Save();
        }
    }

    public void Apply(BriefingUpdate update)
    {
        if (update.Name.Length == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (update.Deleted || update.Briefing is null)
            {
                _byName.Remove(update.Name);
            }
            else
            {
                _byName[update.Name] = update.Briefing.Clone();
                _byName[update.Name].Name = update.Name;
            }

            Save();
        }
    }

    private void Load()
    {
        if (!File.Exists(_path))
        {
            return;
        }

        try
        {
            var list = Parser.Parse<ListBriefingsResponse>(File.ReadAllText(_path));
            _byName = list.Briefings.Where(b => b.Name.Length > 0).ToDictionary(b => b.Name, StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or InvalidProtocolBufferException or UnauthorizedAccessException)
        {
            // A damaged copy is only a cache of the broker's: start without it, the next Welcome restores it.
            Log.Unreadable(_logger, ex, _path);
        }
    }

    private void Save()
    {
        try
        {
            var temporary = _path + ".tmp";
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(Formatter.Format(new ListBriefingsResponse { Briefings = { _byName.Values } }));
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, _path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.NotSaved(_logger, ex, _path);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4300, Level = LogLevel.Warning, Message = "The saved briefings in {Path} cannot be read; starting without them until the broker sends them again.")]
        public static partial void Unreadable(ILogger logger, Exception exception, string path);

        [LoggerMessage(EventId = 4301, Level = LogLevel.Warning, Message = "The briefings could not be saved to {Path}; SessionStart will not have them after a restart while the broker is away.")]
        public static partial void NotSaved(ILogger logger, Exception exception, string path);
    }
}
