// A location field that means something: type a place of the centre's gazetteer (by
// name or postcode; GET /api/places), an address the geocoder finds (GET /api/geocode,
// when the hub has one), or coordinates ("51.5074, -0.1278"); or pick a point on a map.
// The choice travels as the command's `location {text, lat?, lon?, place_id?}`, and the
// place's premise notes and its previous incidents (same place, or within 50 m) show
// under the field. Accessible combobox: arrows move, Enter chooses, Escape closes.

import { addTiles } from './settings.js';
import { api } from './muster.js';
import { h, fill, words, clock, OPEN_INCIDENT } from './ui.js';

let seq = 0;
let geocoderOff = false; // the hub said it has none: stop asking
const NEAR_M = 50;

/** Metres between two points (haversine). */
export function metres(a, b) {
  const r = (d) => (d * Math.PI) / 180;
  const s = Math.sin(r(b[0] - a[0]) / 2) ** 2 + Math.cos(r(a[0])) * Math.cos(r(b[0])) * Math.sin(r(b[1] - a[1]) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(s));
}

/** "51.5074, -0.1278" (or with a space, or ;) as [lat, lon], else null. */
export function parseCoordinates(text) {
  const m = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,; ]\s*(-?\d{1,3}(?:\.\d+)?)\s*$/.exec(text || '');
  if (!m) return null;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? [lat, lon] : null;
}

const fixed = (x) => Number(x).toFixed(4);

/**
 * Builds the field. `client` gives the store (previous incidents); `initial` a location
 * to start from; `name` the input's name (errors for `location.*` land next to it).
 * Returns `{ root, input, value() }`.
 */
export function locationField(client, { label = 'Location', initial = null, name = 'location', required = false } = {}) {
  const n = ++seq;
  const ids = { input: `loc-${n}`, list: `loc-${n}-list`, note: `loc-${n}-chosen` };
  let chosen = initial && (initial.lat != null || initial.place_id) ? { ...initial } : null;
  let options = []; // [{label, detail, loc, place}]
  let active = -1;
  let timer = null;
  let asked = 0;

  const input = h('input', {
    id: ids.input, name, value: initial?.text || '', required, autocomplete: 'off',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': ids.list,
    'aria-describedby': ids.note, placeholder: 'Place, postcode, address or "lat, lon"',
  });
  const list = h('ul', { id: ids.list, role: 'listbox', class: 'loc-list', 'aria-label': `${label} suggestions`, hidden: true });
  const status = h('p', { id: ids.note, class: 'muted loc-chosen', 'aria-live': 'polite' });
  const premise = h('div', { class: 'premise', dataset: { premise: '' } });
  const mapBox = h('div', { class: 'loc-map-box', hidden: true });
  const pickButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', onclick: () => toggleMap() }, 'Pick on map');
  let map = null;
  let marker = null;

  function open(show) {
    list.hidden = !show;
    input.setAttribute('aria-expanded', String(show));
    if (!show) { active = -1; input.removeAttribute('aria-activedescendant'); }
  }

  function renderOptions() {
    fill(list, options.map((o, i) => h('li', {
      id: `${ids.list}-${i}`, role: 'option', 'aria-selected': String(i === active), class: i === active ? 'active' : '',
      dataset: { source: o.source, place: o.place?.id || '' },
      onmousedown: (e) => e.preventDefault(), onclick: () => choose(i),
    }, h('strong', {}, o.label), o.detail ? ` · ${o.detail}` : '')));
    open(options.length > 0);
    if (active >= 0) input.setAttribute('aria-activedescendant', `${ids.list}-${active}`);
  }

  async function search() {
    const q = input.value.trim();
    const mine = ++asked;
    if (q.length < 2 || parseCoordinates(q)) { options = []; renderOptions(); return; }
    const places = await api(`/api/places?q=${encodeURIComponent(q)}&limit=8`).catch(() => ({ places: [] }));
    if (mine !== asked) return;
    options = places.places.map((p) => ({
      source: 'gazetteer', label: p.name, detail: [p.postcode, words(p.kind)].filter(Boolean).join(' · '), place: p,
      loc: { text: p.name, lat: p.lat, lon: p.lon, place_id: p.id },
    }));
    active = -1;
    renderOptions();
    if (places.geocoder === false) geocoderOff = true;
    if (geocoderOff) return;
    try {
      const g = await api(`/api/geocode?q=${encodeURIComponent(q)}&limit=5`);
      if (mine !== asked) return;
      options = options.concat(g.results.map((r) => ({ source: 'geocoder', label: r.name, detail: 'address search', loc: { text: r.name, lat: r.lat, lon: r.lon } })));
      renderOptions();
    } catch (e) {
      if (/no geocoder/.test(e.message)) geocoderOff = true;
    }
  }

  function choose(i) {
    const o = options[i];
    if (!o) return;
    set(o.loc, o.place);
    open(false);
    input.focus();
  }

  /** Makes `loc` the choice (`place`: its gazetteer entry, for the premise notes). */
  function set(loc, place = null) {
    chosen = { ...loc };
    input.value = loc.text || '';
    describe(place);
    if (map && loc.lat != null) mark([loc.lat, loc.lon]);
  }

  function describe(place) {
    if (!chosen || chosen.lat == null) {
      status.textContent = input.value.trim() ? 'Text only: no position (recommendations cannot give distances).' : '';
      fill(premise);
      return;
    }
    status.textContent = `Position ${fixed(chosen.lat)}, ${fixed(chosen.lon)}${chosen.place_id ? ' · from the gazetteer' : ''}`;
    showPremise(place);
  }

  function showPremise(place) {
    if (place) return premiseFor(client, chosen, premise, null, place);
    return premiseFor(client, chosen, premise);
  }

  input.addEventListener('input', () => {
    const coords = parseCoordinates(input.value);
    if (coords) {
      chosen = { text: input.value.trim(), lat: coords[0], lon: coords[1] };
      describe(null);
      if (map) mark(coords);
    } else if (chosen && input.value.trim() !== (chosen.text || '').trim()) {
      chosen = null;
      describe(null);
    }
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!options.length) return;
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + options.length) % options.length;
      renderOptions();
    } else if (e.key === 'Enter' && !list.hidden && active >= 0) {
      e.preventDefault();
      choose(active);
    } else if (e.key === 'Escape' && !list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      open(false);
    }
  });
  input.addEventListener('blur', () => setTimeout(() => open(false), 150));

  function mark(point) {
    const L = window.L;
    // A text pin (44 px, as the board's), given as a DOM node, never as markup.
    const icon = L.divIcon({ className: 'pin picked', html: h('span', {}, '✚ here'), iconSize: [44, 44], iconAnchor: [22, 22] });
    if (!marker) marker = L.marker(point, { icon, keyboard: false, interactive: false, alt: 'Chosen point' }).addTo(map);
    else marker.setLatLng(point);
  }

  /**
   * The centre's units where they last were, and its open incidents, as labels: with no
   * tile server (the default) they are what the operator finds the place by.
   */
  function landmarks(L) {
    const label = (loc, cls, text) => L.marker([loc.lat, loc.lon], {
      icon: L.divIcon({ className: `pin landmark ${cls}`, html: h('span', {}, text), iconSize: null }),
      keyboard: false, interactive: false,
    }).addTo(map);
    for (const r of Object.values(client.store.resources)) if (r.location?.lat != null && !r.retired) label(r.location, 'res', r.name);
    for (const i of Object.values(client.store.incidents)) {
      if (OPEN_INCIDENT.includes(i.status) && i.location?.lat != null) label(i.location, 'inc', `${i.reference.slice(-3)} ${i.location.text || ''}`.trim());
    }
  }

  function toggleMap() {
    const show = mapBox.hidden;
    mapBox.hidden = !show;
    pickButton.setAttribute('aria-expanded', String(show));
    pickButton.textContent = show ? 'Close map' : 'Pick on map';
    if (!show) return;
    const L = window.L;
    if (!L) { fill(mapBox, h('p', {}, 'The map is unavailable: type coordinates as "lat, lon" instead.')); return; }
    if (!map) {
      const box = h('div', { class: 'loc-map', role: 'region', 'aria-label': 'Map: click a point to set the location (or type "lat, lon" in the field)' });
      fill(mapBox, box, h('p', { class: 'muted' }, 'Click the map to set the point. Keyboard: type coordinates or a place in the field.'));
      map = L.map(box, { attributionControl: true, keyboard: false }).setView(chosen?.lat != null ? [chosen.lat, chosen.lon] : [51.51, -0.12], 13);
      addTiles(L, map);
      landmarks(L);
      // The map's own container is not a tab stop (keyboard: false): the field is the
      // keyboard's way to a location; the zoom buttons stay reachable.
      box.removeAttribute('tabindex');
      map.on('click', (e) => {
        const lat = Number(e.latlng.lat.toFixed(5));
        const lon = Number(e.latlng.lng.toFixed(5));
        const keepText = chosen?.text && !chosen.place_id && !parseCoordinates(chosen.text) ? chosen.text : input.value.trim() && !chosen ? input.value.trim() : '';
        set({ text: keepText || `${fixed(lat)}, ${fixed(lon)}`, lat, lon });
      });
    }
    if (chosen?.lat != null) mark([chosen.lat, chosen.lon]);
    setTimeout(() => map.invalidateSize(), 0);
  }

  const root = h('div', { class: 'loc-field' },
    h('label', { for: ids.input }, label), h('div', { class: 'loc-row' }, input, pickButton), list, status, mapBox, premise);
  if (chosen) describe(null);
  return {
    root, input,
    /** The location for a command: `{text, lat?, lon?, place_id?}`. */
    value() {
      const text = input.value.trim();
      if (chosen && chosen.lat != null) return { ...chosen, text: text || chosen.text };
      return { text };
    },
  };
}

/**
 * Fills `box` with the premise notes of `loc`'s gazetteer place and the other
 * incidents at the same place or within 50 m (`except`: the incident shown).
 */
export async function premiseFor(client, loc, box, except = null, known = null) {
  fill(box);
  if (!loc || (loc.lat == null && !loc.place_id)) return;
  let place = known;
  if (!place && loc.place_id) {
    const r = await api(`/api/places?id=${encodeURIComponent(loc.place_id)}`).catch(() => ({ places: [] }));
    place = r.places.find((x) => x.id === loc.place_id) || null;
  }
  const before = Object.values(client.store.incidents || {}).filter((i) => i.id !== except).filter((i) => {
    const l = i.location || {};
    if (loc.place_id && l.place_id === loc.place_id) return true;
    return loc.lat != null && l.lat != null && metres([loc.lat, loc.lon], [l.lat, l.lon]) <= NEAR_M;
  }).sort((a, b) => String(b.opened_at).localeCompare(String(a.opened_at))).slice(0, 5);
  fill(box,
    place?.notes && h('div', { class: 'premise-notes', role: 'note', 'aria-label': `Premise notes: ${place.name}` },
      h('strong', {}, `Premise notes · ${place.name}`), h('p', {}, place.notes)),
    before.length > 0 && h('div', { class: 'premise-history' }, h('strong', {}, `Previous incidents here (${before.length})`),
      h('ul', {}, before.map((i) => h('li', {}, `${i.reference} · ${words(i.type)} · ${words(i.status)} · ${clock(i.opened_at)}`)))));
}
