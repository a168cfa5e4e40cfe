using Relay.Broker.Persistence;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Sessions;

internal sealed partial class SessionReconciler
{
    /// <summary>A relay-channel attached: the session can take prompts through it. It may come before any hook.</summary>
    public async Task ApplyChannelAttachedAsync(IngestContext context, ChannelAttached attached, CancellationToken cancellationToken)
    {
        var channelId = Evidence.Bounded(attached.ChannelId, Limits.IdempotencyKey, "channel_attached.channel_id");
        var evidence = Evidence.Read(attached.Session, "channel_attached.session");
        var session = await ResolveAsync(context, evidence, new Hint(Reopens: true), cancellationToken);
        var at = attached.AttachedAt?.ToDateTimeOffset() ?? context.Now;
        session.ChannelAttached = true;
        session.ChannelId = channelId.Length == 0 ? null : channelId;
        Touch(context, session, at);
        context.SessionEvents.Add(new SessionEventRequest(EventKind.ChannelAttached, session, context.DerivedEventId("channel_attached"), at));
    }

    /// <summary>
    /// A relay-channel went away. A detach that names an older channel than the one attached now (a channel restarted
    /// and the old one's detach arrived late) leaves the newer one attached.
    /// </summary>
    public async Task ApplyChannelDetachedAsync(IngestContext context, ChannelDetached detached, CancellationToken cancellationToken)
    {
        var channelId = Evidence.Bounded(detached.ChannelId, Limits.IdempotencyKey, "channel_detached.channel_id");
        var evidence = Evidence.Read(detached.Session, "channel_detached.session");
        var session = await ResolveAsync(context, evidence, new Hint(Reopens: false), cancellationToken);
        var at = detached.DetachedAt?.ToDateTimeOffset() ?? context.Now;
        if (session.ChannelId is null || channelId.Length == 0 || session.ChannelId == channelId)
        {
            session.ChannelAttached = false;
            session.ChannelId = null;
        }

        Touch(context, session, at);
        context.SessionEvents.Add(new SessionEventRequest(EventKind.ChannelDetached, session, context.DerivedEventId("channel_detached"), at));
    }
}
