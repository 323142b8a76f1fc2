import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';

export interface Mail {
  to: string | string[];
  subject: string;
  text: string;
  html: string;
}

/** What an SMTP server answered, for the trail. */
export class MailError extends Error {
  constructor(
    message: string,
    /** The SMTP reply code, if the server gave one (5xx: permanent). */
    readonly responseCode: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Sends notification mails through the deployment's SMTP server (`SMTP_URL`, `SMTP_FROM`). */
export class Mailer {
  readonly #transport: Transporter;
  readonly #from: string;
  constructor(smtpUrl: string, from: string, options: { timeoutMs?: number } = {}) {
    const timeout = options.timeoutMs ?? 15_000;
    this.#transport = nodemailer.createTransport(smtpUrl, {
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    } as never);
    this.#from = from;
  }

  async send(mail: Mail): Promise<void> {
    try {
      await this.#transport.sendMail({ from: this.#from, ...mail });
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      throw new MailError((err as Error).message, code, { cause: err });
    }
  }

  close(): void {
    this.#transport.close();
  }
}
