// The centre's settings (`GET /api/settings`, no session needed): its name and logo, and
// the map's tiles. Every app reads them here instead of writing them into its pages:
// `brand()` puts the name (and the logo) in the header and the title, `addTiles()` adds
// the tile layer to a Leaflet map when the centre has a tile server.

const DEFAULTS = { name: 'Muster', logo_url: null, tile_url: null, attribution: '&copy; map data contributors', max_zoom: 19 };

let loaded = null;

/** The settings, fetched once per page; the defaults when the hub cannot be asked. */
export function settings() {
  // Offline (the field app opened from its service worker's cache) the defaults stand:
  // a request that cannot go out would only be a console error.
  if (!loaded && globalThis.navigator?.onLine === false) return Promise.resolve(DEFAULTS);
  loaded ??= fetch('/api/settings', { headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : DEFAULTS))
    .catch(() => DEFAULTS);
  return loaded;
}

/** The tile layer on `map` when the centre has a tile server (else the pins alone). */
export async function addTiles(L, map) {
  const s = await settings();
  if (s.tile_url) L.tileLayer(s.tile_url, { maxZoom: s.max_zoom, attribution: s.attribution }).addTo(map);
}

/**
 * The centre's name where the page says "Muster" (the header's heading and the title:
 * "Muster console" becomes "<name> console"), and its logo before the heading.
 */
export async function brand() {
  const s = await settings();
  const heading = document.querySelector('header.bar h1');
  const rename = (text) => text.replace(/^Muster\b/, s.name);
  document.title = rename(document.title);
  if (!heading) return;
  heading.textContent = rename(heading.textContent);
  if (s.logo_url && !heading.querySelector('img')) {
    const img = document.createElement('img');
    img.src = s.logo_url;
    img.alt = '';
    img.className = 'centre-logo';
    heading.prepend(img);
  }
}

if (typeof document !== 'undefined') brand();
