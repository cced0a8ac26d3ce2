import type { DecodeResult, RawRecord } from '../decoders/types.js';

/** A record with its decode result and the event time it sorts by. */
export interface DecodedRecord {
  record: RawRecord;
  result: DecodeResult;
  /** Earliest event time of the record's events (epoch ms); -Infinity for a dead letter, which needs no ordering. */
  timeMs: number;
}

export function decodedRecord(record: RawRecord, result: DecodeResult): DecodedRecord {
  let timeMs = Number.NEGATIVE_INFINITY;
  if (result.ok) {
    timeMs = Number.POSITIVE_INFINITY;
    for (const event of result.events) {
      const eventMs = Date.parse(event['@timestamp']);
      if (eventMs < timeMs) timeMs = eventMs;
    }
    if (!Number.isFinite(timeMs)) timeMs = Number.NEGATIVE_INFINITY;
  }
  return { record, result, timeMs };
}

interface Head {
  item: DecodedRecord;
  source: AsyncIterator<DecodedRecord>;
  /** Position of the source in the argument list, so equal times keep the order the inputs were given. */
  rank: number;
}

/**
 * Merges inputs by event time, holding one record per input. Each input keeps its own order, so
 * an input that is itself out of order stays so; the merge only stops one file's early events
 * from arriving after another file's late ones.
 */
export async function* mergeByEventTime(sources: AsyncIterable<DecodedRecord>[]): AsyncGenerator<DecodedRecord> {
  const heap: Head[] = [];
  for (const [rank, iterable] of sources.entries()) {
    const source = iterable[Symbol.asyncIterator]();
    const first = await source.next();
    if (!first.done) push(heap, { item: first.value, source, rank });
  }

  while (heap.length > 0) {
    const head = heap[0] as Head;
    yield head.item;

    const next = await head.source.next();
    if (next.done) {
      pop(heap);
    } else {
      head.item = next.value;
      siftDown(heap, 0);
    }
  }
}

function before(a: Head, b: Head): boolean {
  return a.item.timeMs < b.item.timeMs || (a.item.timeMs === b.item.timeMs && a.rank < b.rank);
}

function push(heap: Head[], head: Head): void {
  heap.push(head);
  let index = heap.length - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!before(heap[index] as Head, heap[parent] as Head)) break;
    [heap[index], heap[parent]] = [heap[parent] as Head, heap[index] as Head];
    index = parent;
  }
}

function pop(heap: Head[]): void {
  const last = heap.pop() as Head;
  if (heap.length === 0) return;
  heap[0] = last;
  siftDown(heap, 0);
}

function siftDown(heap: Head[], start: number): void {
  let index = start;
  for (;;) {
    const left = 2 * index + 1;
    const right = left + 1;
    let smallest = index;
    if (left < heap.length && before(heap[left] as Head, heap[smallest] as Head)) smallest = left;
    if (right < heap.length && before(heap[right] as Head, heap[smallest] as Head)) smallest = right;
    if (smallest === index) return;
    [heap[index], heap[smallest]] = [heap[smallest] as Head, heap[index] as Head];
    index = smallest;
  }
}
