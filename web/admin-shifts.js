// The Shifts section of /admin: a placeholder until the rosters module replaces this
// file (same name, same export). `ctx` is documented in admin.js.
import { h } from './lib/ui.js';

export function mountShifts(section) {
  section.append(h('p', { class: 'muted' }, 'No rosters on this hub yet.'));
}
