// Joining chunked messages (DESIGN §6, Size): a server message longer than the server's frame
// budget arrives as consecutive `Chunk {id, index, count, data}` frames; the joined `data` of
// one id, in index order, is the message's text, handled only once every part has arrived.
// Parts of one message are consecutive, so a chunk of a new id drops an unfinished one.
'use strict';

// A 1 GB message would be ~5,000 parts: anything claiming more is not ours to buffer.
const MAX_PARTS = 8192;

export class ChunkJoiner {
  constructor() {
    this.reset();
  }

  reset() {
    this.id = null;
    this.parts = [];
    this.missing = 0;
  }

  /** Add one Chunk frame; the whole message's text once complete, else null. */
  add(chunk) {
    const { id, index, count, data } = chunk;
    const valid = typeof id === 'string' && typeof data === 'string'
      && Number.isInteger(count) && count > 0 && count <= MAX_PARTS
      && Number.isInteger(index) && index >= 0 && index < count;
    if (!valid) return null;
    if (id !== this.id || this.parts.length !== count) {
      this.id = id;
      this.parts = new Array(count);
      this.missing = count;
    }
    if (this.parts[index] === undefined) this.missing -= 1;
    this.parts[index] = data;
    if (this.missing > 0) return null;
    const text = this.parts.join('');
    this.reset();
    return text;
  }
}
