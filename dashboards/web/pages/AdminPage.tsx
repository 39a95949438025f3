/**
 * The admin page: bulk import, people's accounts and roles, family doctors'
 * patients (moving them to another doctor), homes and devices with live
 * status (the stream's `device.status` events), device secrets, and refused
 * payloads.
 * Admins read no vitals (server/api/policies.ts), so none are shown here.
 */
import { useState } from 'preact/hooks';
import { ConnectionBadge, Header } from '../components/Header';
import { api } from '../lib/api';
import { useDebounced, useLoad } from '../lib/hooks';
import type { User } from '../lib/types';
import { useLiveAlerts } from '../lib/useLiveAlerts';
import { HomesPanel } from './admin/HomesPanel';
import { DoctorsPanel } from './admin/DoctorsPanel';
import { ImportPanel } from './admin/ImportPanel';
import { RefusalsPanel } from './admin/RefusalsPanel';
import { UsersPanel } from './admin/UsersPanel';

export function AdminPage(props: { user: User; onSignOut: () => void }) {
  const homes = useLoad(() => api.homesOverview(), []);
  const [imports, setImports] = useState(0);
  /** Bumped by a change of an account or a move of patients: the other panel shows it. */
  const [people, setPeople] = useState(0);
  const refreshHomes = useDebounced(homes.reload, 1000);
  // Admins get device status only (server/realtime/streamHub.ts); no alert snapshot.
  const live = useLiveAlerts({ alerts: false, onEvent: (e) => { if (e.type === 'device.status') refreshHomes(); } });

  return (
    <div class="page admin theme-light" data-testid="admin-page">
      <Header page="pageAdmin" user={props.user} onSignOut={props.onSignOut}>
        <ConnectionBadge state={live.connection} />
      </Header>
      <main class="admin-main">
        <div class="admin-col">
          <ImportPanel onImported={() => { homes.reload(); setImports((n) => n + 1); }} />
          {/* An import may add people (and refusals): both panels reload after one. */}
          <UsersPanel me={props.user.username} refreshKey={imports} onChanged={() => setPeople((n) => n + 1)} />
          <DoctorsPanel refreshKey={imports + people} />
          <RefusalsPanel refreshKey={imports} />
        </div>
        <div class="admin-col">
          <HomesPanel homes={homes.value ?? []} loading={homes.loading} />
        </div>
      </main>
    </div>
  );
}
