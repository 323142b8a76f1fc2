import { Packr } from 'msgpackr';

/** How the Redis tier stores an entry. */
export interface Serializer {
  readonly name: 'json' | 'msgpack';
  encode(value: unknown): string | Buffer;
  decode(raw: string | Buffer): unknown;
}

export const jsonSerializer: Serializer = {
  name: 'json',
  encode: (value) => JSON.stringify(value),
  decode: (raw) => JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown,
};

// Plain maps, no records extension: entries stay readable by any msgpack decoder.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export const msgpackSerializer: Serializer = {
  name: 'msgpack',
  encode: (value) => packr.pack(value),
  decode: (raw) => packr.unpack(typeof raw === 'string' ? Buffer.from(raw, 'binary') : raw) as unknown,
};
