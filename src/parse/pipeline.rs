//! Reading a file on two threads: one lexes, places and checks segments
//! (the [`Reader`]), the other builds, balances and hands out transaction
//! sets (the [`Assembler`]).
//!
//! The two halves cost about the same. Between them they do about a third
//! more work than one thread (copying segments into batches, taking them
//! apart again), so on two cores a file is read in about two thirds of the
//! time, and a process confined to one processor reads on one thread
//! ([`read`]). What passes between them is a `Batch`: the bytes of a few
//! thousand segments copied end to end, where each was placed, and the
//! reader's other events (a set begins, a warning, a part, a set closes,
//! the end or a refusal) in the order they happened. The assembler applies
//! them in that order, so warnings, parts and the first refusal come out
//! exactly as the one-thread [`Reader`] iterator gives them (a property
//! test holds the two to that).
//!
//! Memory stays bounded: a batch is cut at `BATCH_SEGMENTS` segments or
//! `BATCH_BYTES` bytes, and at most `BATCHES` exist, one being filled, one
//! being applied and the rest waiting: the reader waits for one to come
//! back rather than make another, and batches are reused.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use super::assemble::{Assembler, Begin, Close};
use super::reader::{Parsed, Reader};
use crate::model::{GroupHeader, InterchangeHeader};
use crate::x12::error::{Location, ParseError, Problem, Result, Warning};
use crate::x12::scan;

/// Segments per batch, at most.
const BATCH_SEGMENTS: usize = 4096;
/// Bytes of segments per batch, past which it is sent (one segment may
/// take it over by at most [`MAX_SEGMENT`](crate::x12::lexer::MAX_SEGMENT)).
const BATCH_BYTES: usize = 256 * 1024;
/// Batches in all, at most: one being filled, one being applied, one
/// waiting. Batches of a few thousand segments keep the threads from
/// waking each other often (each wake-up costs tens of microseconds on a
/// virtual machine); more or larger batches measured no faster and only
/// cost memory (8192 segments or 512 KiB, four batches: 2 MiB more at
/// the peak), and batches of 1,024 segments or 64 KiB measured 3% slower.
const BATCHES: usize = 3;

/// One segment in a `Batch`: where it is placed, and where its bytes
/// end in `Batch::bytes` (they start where the previous segment's end).
/// Its elements are not sent as slices: a segment shorter than 64 bytes
/// (nearly all) comes with the lexer's mask of where its separators stand,
/// from which the assembler takes the elements without reading the bytes
/// again; a longer one is split again with the same separator, a block at
/// a time ([`scan::split`]). Both give the lexer's elements (the scan's
/// tests and the `lexer` fuzz target hold them to `syntax::split`). The
/// element check is shared ([`Lane`](crate::grammar::elements::Lane)): the
/// assembler checks the amounts and dates, which it reads to build the
/// model anyway, and the reader the rest, which balances the two threads.
struct Placed {
    end: u32,
    /// The segment's index in the set's grammar.
    def: u32,
    /// The reader checked every element (see [`Lane`](crate::grammar::elements::Lane)).
    whole: bool,
    code: u32,
    ordinal: u64,
    loop_idx: u32,
    separator: u8,
    /// Where the separators stand, or [`scan::NO_SEPARATORS`].
    seps: u64,
    component: u8,
    /// Every byte of the segment is ASCII (the lexer's finding).
    ascii: bool,
}

/// What the reader did, in order.
///
/// All but segments are rare, and boxed: a batch holds thousands of
/// events, which should take a cache line or less each.
enum Event {
    Begin(Box<Begin>),
    Segment(Placed),
    Warning(Box<Warning>),
    Part(Box<(u32, u64, Arc<InterchangeHeader>, Arc<GroupHeader>)>),
    Close(Box<Close>),
    /// The file was read to its end: how many bytes.
    End(u64),
    Fail(ParseError),
}

/// Events and the segment data they refer to.
struct Batch {
    /// The segments' bytes, end to end.
    bytes: Vec<u8>,
    events: Vec<Event>,
    segments: usize,
}

impl Batch {
    /// Sized for a full batch of the usual segments: grown step by step,
    /// the smaller buffers left behind counted at the peak.
    fn new() -> Batch {
        Batch { bytes: Vec::with_capacity(BATCH_BYTES + 1024), events: Vec::with_capacity(BATCH_SEGMENTS + 16), segments: 0 }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.events.clear();
        self.segments = 0;
    }

    fn full(&self) -> bool {
        self.segments >= BATCH_SEGMENTS || self.bytes.len() >= BATCH_BYTES
    }
}

/// The reader's side: fills batches and sends them.
pub struct Sender {
    batch: Batch,
    to_assembler: SyncSender<Batch>,
    /// Batches the assembler is done with, to fill again.
    spare: Receiver<Batch>,
    /// Batches made so far (at most `BATCHES`).
    made: usize,
}

/// The refusal a reader gets when the assembler has stopped (it refused
/// the file, or its caller stopped reading): nobody reads it.
fn stopped() -> ParseError {
    ParseError::new(Location::default(), Problem::Io { detail: "the reading was stopped".into() })
}

impl Sender {
    pub fn begin(&mut self, begin: Begin) {
        self.batch.events.push(Event::Begin(Box::new(begin)));
    }

    /// One placed and checked segment: `bytes`, split on `separator`,
    /// are its elements (the tag first).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // One segment's parts, as the reader holds them.
    pub fn segment(
        &mut self,
        loop_idx: usize,
        def: usize,
        whole: bool,
        bytes: &[u8],
        separator: u8,
        seps: u64,
        code: u32,
        ordinal: u64,
        component: u8,
        ascii: bool,
    ) -> Result<()> {
        let b = &mut self.batch;
        b.bytes.extend_from_slice(bytes);
        // A batch is sent at BATCH_BYTES, and a segment is at most
        // MAX_SEGMENT long: offsets fit in 32 bits.
        let end = b.bytes.len() as u32;
        b.events.push(Event::Segment(Placed { end, def: def as u32, whole, code, ordinal, loop_idx: loop_idx as u32, separator, seps, component, ascii }));
        b.segments += 1;
        if b.full() {
            self.send()?;
        }
        Ok(())
    }

    pub fn warning(&mut self, warning: Warning) {
        self.batch.events.push(Event::Warning(Box::new(warning)));
    }

    pub fn part(&mut self, index: u32, ordinal: u64, interchange: Arc<InterchangeHeader>, group: Arc<GroupHeader>) {
        self.batch.events.push(Event::Part(Box::new((index, ordinal, interchange, group))));
    }

    pub fn close(&mut self, close: Close) {
        self.batch.events.push(Event::Close(Box::new(close)));
    }

    fn send(&mut self) -> Result<()> {
        let next = match self.spare.try_recv() {
            Ok(batch) => batch,
            Err(_) if self.made < BATCHES => {
                self.made += 1;
                Batch::new()
            }
            Err(_) => self.spare.recv().map_err(|_| stopped())?,
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.to_assembler.send(full).map_err(|_| stopped())
    }

    /// The reading ended: at the end of the file (`bytes` read), or refused.
    pub(super) fn finish(mut self, outcome: Result<u64>) {
        self.batch.events.push(match outcome {
            Ok(bytes) => Event::End(bytes),
            Err(e) => Event::Fail(e),
        });
        // The assembler may have stopped already; then nobody waits.
        let _ = self.send();
    }
}

/// What reading a whole file leaves besides its transaction sets.
#[derive(Debug, Default)]
pub struct Finished {
    pub warnings: Vec<Warning>,
    pub warnings_dropped: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Reads `src` on two threads, handing each transaction set (or part, with
/// `part_claims`, as [`Reader::in_parts`]) to `each` in order; the first
/// refusal ends the reading. The same sets, parts, warnings and refusal as
/// the [`Reader`] iterator.
///
/// On one thread when the process may run only one at a time (one
/// processor, or a service confined to one by its cgroup or affinity):
/// two threads do about a third more work, which pays only when they run
/// side by side.
pub fn read<R: Read + Send>(src: R, part_claims: Option<usize>, each: impl FnMut(Parsed)) -> Result<Finished> {
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    read_on(if parallel { 2 } else { 1 }, src, part_claims, each)
}

/// [`read`] on `threads` threads: 1 reads with the [`Reader`] iterator on
/// the caller's thread, anything more on two.
pub fn read_on<R: Read + Send>(threads: usize, src: R, part_claims: Option<usize>, mut each: impl FnMut(Parsed)) -> Result<Finished> {
    if threads < 2 {
        return read_here(src, part_claims, each);
    }
    let (to_assembler, from_reader) = sync_channel::<Batch>(BATCHES);
    let (to_reader, spare) = sync_channel::<Batch>(BATCHES);
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let mut reader = Reader::sending(src, part_claims, Sender { batch: Batch::new(), to_assembler, spare, made: 1 });
            // Sending, the reader yields nothing: it reads to the end or
            // to its first refusal.
            let outcome = reader.step().map(|_| reader.bytes_read());
            if let Some(sender) = reader.take_sender() {
                sender.finish(outcome);
            }
        });
        let outcome = assemble(from_reader, to_reader, &mut each);
        // Joined, not only waited for by the scope: the thread has then
        // exited, its thread-local storage gone, before `read` returns.
        if let Err(panic) = reading.join() {
            std::panic::resume_unwind(panic);
        }
        outcome
    })
}

/// The assembler's side: applies batches in order until the reading ends.
/// Returning drops `from_reader`, which stops a reader still sending.
fn assemble(from_reader: Receiver<Batch>, to_reader: SyncSender<Batch>, each: &mut impl FnMut(Parsed)) -> Result<Finished> {
    let mut assembler = Assembler::default();
    for mut batch in from_reader.iter() {
        if let Some(end) = apply(&mut batch, &mut assembler, each) {
            return end.map(|bytes| {
                let (warnings, warnings_dropped) = assembler.warnings();
                Finished { warnings: warnings.to_vec(), warnings_dropped, bytes }
            });
        }
        batch.clear();
        let _ = to_reader.try_send(batch);
    }
    // The reader always ends with End or Fail unless it panicked, which
    // the join passes on.
    Err(stopped())
}

/// [`read`] on the caller's thread.
fn read_here<R: Read>(src: R, part_claims: Option<usize>, mut each: impl FnMut(Parsed)) -> Result<Finished> {
    let mut reader = Reader::parted(src, part_claims);
    for parsed in reader.by_ref() {
        each(parsed?);
    }
    let (warnings, warnings_dropped) = reader.warnings();
    Ok(Finished { warnings: warnings.to_vec(), warnings_dropped, bytes: reader.bytes_read() })
}

/// Applies one batch to the assembler: `Some` when the reading ended in it.
fn apply(batch: &mut Batch, assembler: &mut Assembler, each: &mut impl FnMut(Parsed)) -> Option<Result<u64>> {
    let Batch { bytes, events, .. } = batch;
    // A segment's elements are split one segment ahead of its building:
    // read back right after they were written, the slices stalled on
    // store forwarding.
    let (mut els, mut ahead): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::with_capacity(32), Vec::with_capacity(32));
    let mut split_ahead = false;
    let mut start = 0;
    let mut events = events.drain(..).peekable();
    while let Some(event) = events.next() {
        let done = match event {
            Event::Begin(begin) => {
                assembler.begin(*begin);
                Ok(())
            }
            Event::Segment(p) => {
                if split_ahead {
                    std::mem::swap(&mut els, &mut ahead);
                } else {
                    elements(&p, &bytes[start..p.end as usize], &mut els);
                }
                start = p.end as usize;
                split_ahead = match events.peek() {
                    Some(Event::Segment(next)) => {
                        elements(next, &bytes[start..next.end as usize], &mut ahead);
                        true
                    }
                    _ => false,
                };
                assembler.check_and_build(p.def as usize, p.whole, p.loop_idx as usize, &els, p.code, p.ordinal, p.component, p.ascii)
            }
            Event::Warning(w) => {
                assembler.keep(*w);
                Ok(())
            }
            Event::Part(part) => {
                let (index, ordinal, interchange, group) = *part;
                assembler.part(index, ordinal, interchange, group).map(&mut *each)
            }
            Event::Close(close) => assembler.close(*close).map(&mut *each),
            Event::End(bytes) => return Some(Ok(bytes)),
            Event::Fail(e) => return Some(Err(e)),
        };
        if let Err(e) = done {
            return Some(Err(e));
        }
    }
    None
}

/// The elements of placed segment `p`, whose bytes are `segment` (the tag
/// first).
#[inline(always)]
fn elements<'b>(p: &Placed, segment: &'b [u8], out: &mut Vec<&'b [u8]>) {
    if p.seps == scan::NO_SEPARATORS {
        scan::split(p.separator, segment, out);
    } else {
        scan::elements_at(segment, p.seps, out);
    }
}
