import pytest

from watchers.kube.chunked import BLOCK, FILL, ChunkError, Dechunker, read_paced


def framed(*payloads: bytes, last: bool = True) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads)
    return body + (b"0\r\n\r\n" if last else b"")


def test_whole_chunks_decode_to_their_payload():
    dechunker = Dechunker()
    assert dechunker.feed(framed(b'{"a":1}\n', b'{"b":2}\n', last=False)) == b'{"a":1}\n{"b":2}\n'
    assert not dechunker.done


@pytest.mark.parametrize("cut", range(1, 30))
def test_framing_split_anywhere_decodes_the_same(cut):
    data = framed(b"hello\n", b"world, again\n")
    dechunker = Dechunker()
    assert dechunker.feed(data[:cut]) + dechunker.feed(data[cut:]) == b"hello\nworld, again\n"
    assert dechunker.done


def test_chunk_extensions_and_the_last_chunk_end_the_body():
    dechunker = Dechunker()
    assert dechunker.feed(b"5;name=x\r\nhello\r\n0\r\nTrailer: y\r\n\r\n") == b"hello"
    assert dechunker.done


@pytest.mark.parametrize("bad", [b"zz\r\nhello\r\n", b"5\r\nhelloXX", b"1" * 2000])
def test_broken_framing_is_an_error(bad):
    with pytest.raises(ChunkError):
        Dechunker().feed(bad)


class Socketish:
    """read1 returns the prepared reads one by one, then EOF."""

    def __init__(self, *reads: bytes) -> None:
        self.reads = list(reads)
        self.calls = 0

    def read1(self, size: int) -> bytes:
        self.calls += 1
        return self.reads.pop(0) if self.reads else b""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 3))
        self.now += seconds
        return False


def test_a_read_that_drained_the_socket_waits_out_the_interval_before_the_next():
    clock = Clock()
    fp = Socketish(framed(b"a\n", last=False), framed(b"b\n"))
    blocks = [payload for payload, _ in read_paced(fp, 0.1, clock.wait, clock)]
    assert blocks == [b"a\n", b"b\n"]
    assert clock.waits == [0.1]  # none after the last chunk


class Blocking(Socketish):
    """Each read takes `took` seconds of the clock (the socket had nothing yet)."""

    def __init__(self, clock: Clock, took: list[float], *reads: bytes) -> None:
        super().__init__(*reads)
        self.clock, self.took = clock, took

    def read1(self, size: int) -> bytes:
        self.clock.now += self.took.pop(0)
        return super().read1(size)


def test_blocks_are_stamped_with_the_earliest_time_their_data_can_have_arrived():
    clock = Clock()
    clock.now = 100.0
    reads = [framed(b"a\n", last=False), framed(b"b\n", last=False), framed(b"c\n")]
    fp = Blocking(clock, [5.0, 0.0, 3.0], *reads)
    stamps = [at for _, at in read_paced(fp, 0.1, clock.wait, clock)]
    # a: blocked 5 s, so it came at most one interval before the read returned;
    # b: waiting in the socket since the read before it drained it;
    # c: blocked again.
    assert stamps == [104.9, 105.0, 108.1 - 0.1]


def test_a_full_read_is_followed_at_once():
    clock = Clock()
    big = b"x" * (BLOCK - 20) + b"\n"
    data = framed(big, b"y\n")
    fp = Socketish(data[:BLOCK], data[BLOCK:])
    assert b"".join(payload for payload, _ in read_paced(fp, 0.1, clock.wait, clock)) == (
        big + b"y\n"
    )
    assert clock.waits == []


def test_eof_ends_the_body_and_a_stop_ends_the_wait():
    clock = Clock()
    assert list(read_paced(Socketish(), 0.1, clock.wait, clock)) == []
    fp = Socketish(framed(b"a\n", last=False), framed(b"b\n"))
    stopping = [payload for payload, _ in read_paced(fp, 0.1, lambda seconds: True, clock)]
    assert stopping == [b"a\n"]


class Flowing:
    """A stream arriving steadily at `rate` bytes/s: a read returns what came since the last."""

    def __init__(self, clock: Clock, rate: float, reads: int) -> None:
        self.clock, self.rate, self.left, self.last = clock, rate, reads, clock.now
        self.sizes: list[int] = []

    def read1(self, size: int) -> bytes:
        self.left -= 1
        if self.left < 0:
            return framed()
        if self.clock.now == self.last:  # nothing came yet: block until some did
            self.clock.now += 0.001
        size = int((self.clock.now - self.last) * self.rate)
        self.last = self.clock.now
        self.sizes.append(size)
        return framed(b"x" * (size - 1) + b"\n", last=False)


def test_a_fast_stream_is_read_before_it_fills_the_socket():
    """Reads every interval would let a fast stream fill the receive buffer: the server then
    stops sending and the watch falls behind the cluster."""
    clock = Clock()
    fp = Flowing(clock, rate=FILL / 0.04, reads=20)  # FILL bytes every 40 ms
    list(read_paced(fp, 0.25, clock.wait, clock))
    assert max(clock.waits) < 0.05
    assert max(fp.sizes[1:]) < 1.5 * FILL


def test_a_slow_stream_is_still_read_once_an_interval():
    clock = Clock()
    fp = Flowing(clock, rate=FILL / 10, reads=10)  # FILL bytes every 10 s
    list(read_paced(fp, 0.25, clock.wait, clock))
    assert clock.waits[1:] == [0.25] * (len(clock.waits) - 1)
