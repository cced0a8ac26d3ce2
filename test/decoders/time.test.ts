import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIsoUtc, localToIso, parseIsoInstant, parseLocalDateTime, parseLocalIso } from '../../src/decoders/time.js';

const NEW_YORK = 'America/New_York';

describe('parseIsoInstant', () => {
  it('honours offsets', () => {
    assert.equal(parseIsoInstant('2010-02-08T14:13:47-06:00'), '2010-02-08T20:13:47.000Z');
    assert.equal(parseIsoInstant('2009-10-22T12:23:45.530+01:00'), '2009-10-22T11:23:45.530Z');
  });

  it('reads millisecond and 7-digit fractions', () => {
    assert.equal(parseIsoInstant('2020-04-29T09:49:00.000Z'), '2020-04-29T09:49:00.000Z');
    assert.equal(parseIsoInstant('2022-04-28T16:09:28.9443547Z'), '2022-04-28T16:09:28.944Z');
    assert.equal(parseIsoInstant('2019-03-12T16:02:15.5522137+00:00'), '2019-03-12T16:02:15.552Z');
  });

  it('rejects zone-less and invalid values', () => {
    assert.equal(parseIsoInstant('2020-10-22 04:29:53'), undefined);
    assert.equal(parseIsoInstant('2020-10-22T04:29:53'), undefined);
    assert.equal(parseIsoInstant('2020-13-45T04:29:53Z'), undefined);
    assert.equal(parseIsoInstant(1234), undefined);
  });

  it('agrees with Date.parse on edge values', () => {
    const fields = {
      date: ['2024-02-29', '2023-02-29', '2023-02-30', '2023-04-31', '2023-13-01', '2023-00-10', '2023-01-00', '2023-01-32', '0099-01-01', '0100-03-01', '9999-12-31', '2023-1a-01'],
      time: ['00:00:00', '23:59:59', '24:00:00', '23:60:00', '23:59:60', '12:3x:00'],
      fraction: ['', '.', '.5', '.05', '.123', '.1239', '.987654321', '.12a'],
      zone: ['Z', 'z', '+00:00', '-00:00', '+05:30', '-04:00', '+14:00', '+23:59', '+24:00', '+05:60', '+0530', '+5:30'],
    };
    for (const date of fields.date) {
      for (const time of fields.time) {
        for (const fraction of fields.fraction) {
          for (const zone of fields.zone) {
            const value = `${date}T${time}${fraction}${zone}`;
            const parsed = Date.parse(value);
            const expected = Number.isNaN(parsed) || zone === '+0530' || zone === '+5:30' ? undefined : new Date(parsed).toISOString();
            assert.equal(parseIsoInstant(value), expected, value);
          }
        }
      }
    }
  });
});

describe('local times in a zone', () => {
  it('reads comma fractions', () => {
    assert.deepEqual(parseLocalDateTime('2023-05-25 22:24:19,357'), { year: 2023, month: 5, day: 25, hour: 22, minute: 24, second: 19, millisecond: 357 });
  });

  it('rejects impossible dates', () => {
    assert.equal(parseLocalDateTime('2023-02-29 10:00:00'), undefined);
    assert.equal(parseLocalDateTime('2023-04-01 24:00:00'), undefined);
  });

  it('resolves ordinary winter and summer times', () => {
    assert.equal(parseLocalIso('2024-01-15 09:00:00', NEW_YORK), '2024-01-15T14:00:00.000Z');
    assert.equal(parseLocalIso('2024-07-15 09:00:00', NEW_YORK), '2024-07-15T13:00:00.000Z');
  });

  it('takes the earlier repeated November hour', () => {
    // 2024-11-03 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    assert.equal(parseLocalIso('2024-11-03 01:30:00', NEW_YORK), '2024-11-03T05:30:00.000Z');
    assert.equal(parseLocalIso('2024-11-03 00:59:59', NEW_YORK), '2024-11-03T04:59:59.000Z');
    assert.equal(parseLocalIso('2024-11-03 02:00:00', NEW_YORK), '2024-11-03T07:00:00.000Z');
  });

  it('shifts the skipped March hour forward', () => {
    // 2024-03-10 02:30 never happens; it is read as 03:30 EDT.
    assert.equal(parseLocalIso('2024-03-10 02:30:00', NEW_YORK), '2024-03-10T07:30:00.000Z');
    assert.equal(parseLocalIso('2024-03-10 01:59:59', NEW_YORK), '2024-03-10T06:59:59.000Z');
    assert.equal(parseLocalIso('2024-03-10 03:00:00', NEW_YORK), '2024-03-10T07:00:00.000Z');
  });

  it('handles zones east of UTC', () => {
    const parts = { year: 2024, month: 10, day: 27, hour: 2, minute: 30, second: 0, millisecond: 0 };
    // Berlin repeats 02:30 on 2024-10-27: first at 00:30Z (CEST).
    assert.equal(localToIso(parts, 'Europe/Berlin'), '2024-10-27T00:30:00.000Z');
  });

  it('rejects an unknown zone', () => {
    assert.throws(() => parseLocalIso('2024-01-01 00:00:00', 'Mars/Olympus'), /not a valid IANA zone/);
  });
});

describe('formatIsoUtc', () => {
  const DAY_MS = 86_400_000;
  const asToIsoString = (ms: number): string => new Date(ms).toISOString();

  it('matches toISOString on calendar edges', () => {
    const edges: number[] = [0, -1, 1, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(1900, 1, 28), Date.UTC(2100, 2, 1)];
    for (let year = 0; year <= 9999; year += 7) {
      for (const [month, day] of [[0, 1], [1, 28], [1, 29], [2, 1], [11, 31]] as const) {
        const date = new Date(0);
        date.setUTCFullYear(year, month, day);
        edges.push(date.getTime(), date.getTime() + DAY_MS - 1);
      }
    }
    for (const ms of edges) assert.equal(formatIsoUtc(ms), asToIsoString(ms), `ms ${ms}`);
  });

  it('matches toISOString on spread instants', () => {
    let seed = 12_345;
    for (let index = 0; index < 100_000; index++) {
      seed = (seed * 48_271) % 2_147_483_647;
      const ms = Math.floor((seed / 2_147_483_647 - 0.5) * 5.2e14);
      assert.equal(formatIsoUtc(ms), asToIsoString(ms), `ms ${ms}`);
    }
  });

  it('hands other years to toISOString', () => {
    assert.equal(formatIsoUtc(-62_167_219_200_001), '-000001-12-31T23:59:59.999Z');
    assert.equal(formatIsoUtc(253_402_300_800_000), '+010000-01-01T00:00:00.000Z');
    assert.equal(formatIsoUtc(-62_167_219_200_000), '0000-01-01T00:00:00.000Z');
    assert.equal(formatIsoUtc(253_402_300_799_999), '9999-12-31T23:59:59.999Z');
    assert.throws(() => formatIsoUtc(Number.NaN), RangeError);
  });
});
