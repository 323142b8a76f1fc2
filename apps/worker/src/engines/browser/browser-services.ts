// Hosts that Chromium itself calls — component and extension updates, sign-in, sync, Safe
// Browsing, the optimisation guide, domain-reliability beacons — never a page. The browser is
// launched with its background networking off (`chromiumFlags`); should a version still call one,
// or a page name one, the egress proxy refuses it by name, before any DNS lookup: a test of a
// site must not make the worker talk to Google, nor tell anyone which sites it loads.

/** Names refused as they are (lower case, no trailing dot). */
const EXACT = new Set([
  'update.googleapis.com',
  'accounts.google.com',
  'android.clients.google.com',
  'clients.google.com',
  'clientservices.googleapis.com',
  'safebrowsing.googleapis.com',
  'sb-ssl.google.com',
  'content-autofill.googleapis.com',
  'dl.google.com',
  'redirector.gvt1.com',
  'clients2.googleusercontent.com',
  'chrome-devtools-frontend.appspot.com',
]);

/** Whole domains refused with every name under them: Chromium's download and beacon CDNs. */
const DOMAINS = ['gvt1.com', 'gvt2.com', 'gvt3.com'];

/** `clients1…clients6.google.com` (updates, extensions, crash reports). */
const CLIENTS = /^clients\d*\.google\.com$/;
/** Google's private APIs for its own apps (`optimizationguide-pa`, `chromesyncpasswords-pa`…). */
const PRIVATE_API = /^[a-z0-9-]+-pa\.googleapis\.com$/;

/** True when `host` (a name, as a URL or a CONNECT line carries it) is one of Chromium's own services. */
export function isBrowserServiceHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.+$/, '');
  if (EXACT.has(name) || CLIENTS.test(name) || PRIVATE_API.test(name)) return true;
  return DOMAINS.some((domain) => name === domain || name.endsWith(`.${domain}`));
}
