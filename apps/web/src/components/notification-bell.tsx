import { Channels, channelName } from '@crucible/contracts/channels';
import { badgeText } from '../lib/notifications';
import { useStore } from '../lib/store';
import { useChannel } from '../live-connection';
import { notificationArrived, unread } from '../unread';

/**
 * The header's bell: the caller's unread notifications, live from `user-notifications-{userId}`
 * (each `user:notification` recounts; the one subscription to it: pages follow `arrivals`), and the way to the notification centre.
 */
export function NotificationBell({ userId }: { userId: string }) {
  const count = useStore(unread);
  useChannel(channelName(Channels.USER_NOTIFICATIONS, { userId }), {
    message: (m) => {
      if (m.event === 'user:notification') notificationArrived();
    },
    reset: notificationArrived,
  });
  const badge = badgeText(count ?? 0);
  return (
    <a
      href="/notifications"
      class="bell"
      data-testid="bell"
      data-unread={count ?? ''}
      aria-label={count ? `Notifications, ${count} unread` : 'Notifications'}
    >
      <span aria-hidden="true">🔔</span>
      {badge && (
        <span class="badge" data-testid="unread-count">
          {badge}
        </span>
      )}
    </a>
  );
}
