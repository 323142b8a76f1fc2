import type { SecurityFinding, SecurityResult } from '@crucible/contracts';
import type { TlsInfo } from '@crucible/egress';

export type TlsReport = NonNullable<SecurityResult['tls']>;

/** What the handshake showed, with the whole days left before the certificate expires (null: no date). */
export function tlsReport(info: TlsInfo, now = Date.now()): TlsReport {
  const validTo = info.certificate ? Date.parse(info.certificate.validTo) : NaN;
  const expiresInDays = Number.isNaN(validTo) ? null : Math.floor((validTo - now) / 86_400_000);
  return { ...info, expiresInDays };
}

export function tlsFindings(tls: TlsInfo, expiresInDays: number | null, host: string): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  if (tls.protocol && ['SSLv3', 'TLSv1', 'TLSv1.1'].includes(tls.protocol)) {
    findings.push({
      id: 'tls-old-protocol',
      category: 'tls',
      severity: 'high',
      title: `Obsolete ${tls.protocol}`,
      detail: `the server agreed to ${tls.protocol}`,
      fix: 'Allow TLS 1.2 and 1.3 only.',
    });
  }
  if (!tls.hostMatches) {
    findings.push({
      id: 'tls-host-mismatch',
      category: 'tls',
      severity: 'high',
      title: 'Certificate does not name the host',
      detail: `${host} is not in ${tls.certificate?.subjectAltName ?? 'the certificate'}`,
      fix: `Serve a certificate whose subjectAltName includes ${host}.`,
    });
  }
  if (expiresInDays !== null && expiresInDays < 0) {
    findings.push({
      id: 'tls-expired',
      category: 'tls',
      severity: 'high',
      title: 'Certificate expired',
      detail: `expired ${-expiresInDays} days ago (${tls.certificate?.validTo})`,
      fix: 'Renew the certificate (and automate renewal, e.g. ACME).',
    });
  } else if (expiresInDays !== null && expiresInDays < 30) {
    findings.push({
      id: 'tls-expiring',
      category: 'tls',
      severity: expiresInDays < 14 ? 'medium' : 'low',
      title: 'Certificate expires soon',
      detail: `${expiresInDays} days left (${tls.certificate?.validTo})`,
      fix: 'Renew the certificate now and automate renewal.',
    });
  }
  if (!tls.authorized && tls.hostMatches && (expiresInDays === null || expiresInDays >= 0)) {
    findings.push({
      id: 'tls-untrusted',
      category: 'tls',
      severity: 'high',
      title: 'Certificate is not trusted',
      detail: tls.authorizationError ?? 'the chain did not verify',
      fix: 'Serve a certificate from a public CA with its full intermediate chain.',
    });
  }
  return findings;
}
