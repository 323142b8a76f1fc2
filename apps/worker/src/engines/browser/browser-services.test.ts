import { describe, expect, it } from 'vitest';
import { isBrowserServiceHost } from './browser-services.js';

describe('isBrowserServiceHost', () => {
  it("names Chromium's own services, whatever their case or trailing dot", () => {
    for (const host of [
      'update.googleapis.com',
      'UPDATE.googleapis.com.',
      'accounts.google.com',
      'clients2.google.com',
      'clients.google.com',
      'redirector.gvt1.com',
      'r3---sn-abc.gvt1.com',
      'beacons.gcp.gvt2.com',
      'gvt1.com',
      'optimizationguide-pa.googleapis.com',
      'safebrowsing.googleapis.com',
    ]) {
      expect(isBrowserServiceHost(host), host).toBe(true);
    }
  });

  it("leaves what pages load from Google's domains, and look-alikes, to the egress policy", () => {
    for (const host of [
      'fonts.googleapis.com',
      'ajax.googleapis.com',
      'www.google.com',
      'www.gstatic.com',
      'notgvt1.com',
      'gvt1.com.example',
      'update.googleapis.com.example',
      'myaccounts.google.com.evil',
      'clientsx.google.com',
    ]) {
      expect(isBrowserServiceHost(host), host).toBe(false);
    }
  });
});
