//! Per-thread zstd contexts for chunk encoding and decoding: creating a context costs about
//! as much as compressing or decompressing one small chunk frame (a profile of range
//! queries showed `ZSTD_createDCtx` at 20 % of their CPU), so each thread keeps one.

use std::cell::RefCell;

/// The zstd level of every chunk frame.
const LEVEL: i32 = 3;

thread_local! {
    static COMPRESSOR: RefCell<zstd::bulk::Compressor<'static>> =
        RefCell::new(zstd::bulk::Compressor::new(LEVEL).expect("BUG: zstd compression context"));
    static DECOMPRESSOR: RefCell<zstd::bulk::Decompressor<'static>> =
        RefCell::new(zstd::bulk::Decompressor::new().expect("BUG: zstd decompression context"));
}

/// One zstd frame of `data` at [`LEVEL`].
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|c| {
        c.borrow_mut()
            .compress(data)
            .expect("BUG: zstd compression of a memory buffer")
    })
}

/// The content of the zstd frame `frame`, at most `capacity` bytes.
pub(crate) fn decompress(frame: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|d| d.borrow_mut().decompress(frame, capacity))
}

thread_local! {
    /// Decompressed bytes of the last frame read through [`decompress_with`].
    static PLAIN: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with the content of the zstd frame `frame` (at most `capacity` bytes), held in a
/// buffer this thread reuses; `f` must not call this function again.
pub(crate) fn decompress_with<R>(
    frame: &[u8],
    capacity: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> std::io::Result<R> {
    PLAIN.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.reserve(capacity);
        DECOMPRESSOR.with(|d| d.borrow_mut().decompress_to_buffer(frame, &mut *buf))?;
        Ok(f(&buf))
    })
}
