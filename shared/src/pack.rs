//! The two packings of a snapshot payload, behind one interface so that the delta codec
//! is written once and both can be measured on the same traffic.
//!
//! - [`BitWriter`] / [`BitReader`]: bits least-significant first within each byte;
//!   unsigned integers as Exp-Golomb codes of order `k` (small values in few bits),
//!   signed ones zigzagged first.
//! - [`ByteWriter`] / [`ByteReader`]: LEB128 varints (zigzag for signed), fixed-width
//!   fields rounded up to whole bytes; `k` is ignored.

// Peer-controlled bytes flow through this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

/// A malformed payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("payload ended early")]
    Truncated,
    #[error("integer code too long")]
    Overlong,
    #[error("non-zero padding after the payload")]
    Trailing,
}

/// Where the delta codec writes.
pub trait Packer {
    /// `n` ≤ 32 low bits of `value`, raw.
    fn bits(&mut self, value: u32, n: u32);
    /// An unsigned integer; `k` hints at its usual magnitude (about 2^k).
    fn uint(&mut self, value: u32, k: u32);
    /// A signed integer, zigzagged.
    fn sint(&mut self, value: i32, k: u32) {
        self.uint(zigzag(value), k);
    }
    /// Size so far, in bits.
    fn bit_len(&self) -> usize;
}

/// Where the delta codec reads from.
pub trait Unpacker {
    fn bits(&mut self, n: u32) -> Result<u32, PackError>;
    fn uint(&mut self, k: u32) -> Result<u32, PackError>;
    fn sint(&mut self, k: u32) -> Result<i32, PackError> {
        Ok(unzigzag(self.uint(k)?))
    }
    /// Checks that nothing but zero padding is left.
    fn finish(&mut self) -> Result<(), PackError>;
}

/// Bits an Exp-Golomb code of order `k` takes for `value`: values below 2^k take k + 1,
/// each doubling beyond two more.
pub fn eg_bits(value: u32, k: u32) -> u32 {
    let len = 64 - (u64::from(value) + (1u64 << k.min(32))).leading_zeros();
    2 * len - k.min(32) - 1
}

pub fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

pub fn unzigzag(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits not yet flushed to `bytes`, least significant first; fewer than 8 between calls.
    acc: u64,
    pending: u32,
}

impl BitWriter {
    pub fn new() -> BitWriter {
        BitWriter::default()
    }

    /// A writer with room for `bytes` bytes before it grows.
    pub fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter {
            bytes: Vec::with_capacity(bytes),
            ..BitWriter::default()
        }
    }

    /// Appends the `n` ≤ 56 low bits of `value`.
    fn put(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 56);
        let mask = if n == 0 { 0 } else { u64::MAX >> (64 - n) };
        self.acc |= (value & mask) << self.pending;
        self.pending += n;
        while self.pending >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.pending -= 8;
        }
    }

    fn put_long(&mut self, value: u64, n: u32) {
        if n > 32 {
            self.put(value & 0xFFFF_FFFF, 32);
            self.put(value >> 32, n - 32);
        } else {
            self.put(value, n);
        }
    }

    /// Appends everything another writer holds, bit for bit.
    pub fn append(&mut self, other: &BitWriter) {
        self.append_parts(&other.bytes, other.acc, other.pending);
    }

    /// Appends whole `bytes`, then the `tail_bits` (< 8) low bits of `tail`: what
    /// [`BitWriter::parts`] gave for another writer.
    pub fn append_parts(&mut self, bytes: &[u8], tail: u64, tail_bits: u32) {
        if self.pending == 0 {
            self.bytes.extend_from_slice(bytes);
        } else {
            for &b in bytes {
                self.put(u64::from(b), 8);
            }
        }
        self.put(tail, tail_bits.min(7));
    }

    /// The whole bytes written so far, and the bits after them (value, count < 8).
    pub fn parts(&self) -> (&[u8], u64, u32) {
        (&self.bytes, self.acc, self.pending)
    }

    /// Empties the writer, keeping its allocation.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.acc = 0;
        self.pending = 0;
    }

    pub fn into_bytes(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

impl Packer for BitWriter {
    fn bits(&mut self, value: u32, n: u32) {
        self.put(u64::from(value), n.min(32));
    }

    fn uint(&mut self, value: u32, k: u32) {
        // Exp-Golomb of order k: with v = value + 2^k of `len` bits, write len - k - 1
        // zeros, a one, then the len - 1 bits of v below its leading one, LSB first.
        let v = u64::from(value) + (1u64 << k);
        let len = 64 - v.leading_zeros();
        let mut zeros = len - k - 1;
        while zeros > 0 {
            let n = zeros.min(32);
            self.put(0, n);
            zeros -= n;
        }
        self.put(1, 1);
        self.put_long(v, len - 1);
    }

    fn bit_len(&self) -> usize {
        self.bytes.len() * 8 + self.pending as usize
    }
}

#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, PackError> {
        let byte = self.bytes.get(self.pos / 8).ok_or(PackError::Truncated)?;
        let bit = byte >> (self.pos % 8) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    fn bits64(&mut self, n: u32) -> Result<u64, PackError> {
        let mut v = 0u64;
        for i in 0..n {
            if self.bit()? {
                v |= 1 << i;
            }
        }
        Ok(v)
    }
}

impl Unpacker for BitReader<'_> {
    fn bits(&mut self, n: u32) -> Result<u32, PackError> {
        Ok(self.bits64(n.min(32))? as u32)
    }

    fn uint(&mut self, k: u32) -> Result<u32, PackError> {
        let mut prefix = 0u32;
        while !self.bit()? {
            prefix += 1;
            // A u32 plus 2^k never needs more than 33 bits.
            if prefix + k > 33 {
                return Err(PackError::Overlong);
            }
        }
        let len = prefix + k + 1;
        let low = self.bits64(len - 1)?;
        let v = (1u64 << (len - 1)) | low;
        u32::try_from(v - (1u64 << k)).map_err(|_| PackError::Overlong)
    }

    fn finish(&mut self) -> Result<(), PackError> {
        // Only the padding of the last byte may remain, and it must be zero.
        let total = self.bytes.len() * 8;
        if total.saturating_sub(self.pos) >= 8 {
            return Err(PackError::Trailing);
        }
        while self.pos < total {
            if self.bit()? {
                return Err(PackError::Trailing);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
pub struct ByteWriter {
    bytes: Vec<u8>,
}

impl ByteWriter {
    pub fn new() -> ByteWriter {
        ByteWriter::default()
    }

    pub fn append(&mut self, other: &ByteWriter) {
        self.bytes.extend_from_slice(&other.bytes);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Packer for ByteWriter {
    fn bits(&mut self, value: u32, n: u32) {
        for i in 0..n.min(32).div_ceil(8) {
            self.bytes.push((value >> (8 * i)) as u8);
        }
    }

    fn uint(&mut self, mut value: u32, _k: u32) {
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.bytes.push(low);
                return;
            }
            self.bytes.push(low | 0x80);
        }
    }

    fn bit_len(&self) -> usize {
        self.bytes.len() * 8
    }
}

#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8]) -> ByteReader<'a> {
        ByteReader { bytes, pos: 0 }
    }

    fn byte(&mut self) -> Result<u8, PackError> {
        let b = *self.bytes.get(self.pos).ok_or(PackError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }
}

impl Unpacker for ByteReader<'_> {
    fn bits(&mut self, n: u32) -> Result<u32, PackError> {
        let mut v = 0u32;
        for i in 0..n.min(32).div_ceil(8) {
            v |= u32::from(self.byte()?) << (8 * i);
        }
        Ok(v)
    }

    fn uint(&mut self, _k: u32) -> Result<u32, PackError> {
        let mut v = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| PackError::Overlong);
            }
        }
        Err(PackError::Overlong)
    }

    fn finish(&mut self) -> Result<(), PackError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(PackError::Trailing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Item {
        Bits(u32, u32),
        Uint(u32, u32),
        Sint(i32, u32),
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            (any::<u32>(), 0u32..=32)
                .prop_map(|(v, n)| Item::Bits(if n == 32 { v } else { v & ((1 << n) - 1) }, n)),
            (any::<u32>(), 0u32..=16).prop_map(|(v, k)| Item::Uint(v, k)),
            (any::<i32>(), 0u32..=16).prop_map(|(v, k)| Item::Sint(v, k)),
        ]
    }

    fn write(p: &mut impl Packer, items: &[Item]) {
        for it in items {
            match *it {
                Item::Bits(v, n) => p.bits(v, n),
                Item::Uint(v, k) => p.uint(v, k),
                Item::Sint(v, k) => p.sint(v, k),
            }
        }
    }

    fn read(u: &mut impl Unpacker, items: &[Item]) -> Result<(), PackError> {
        for it in items {
            match *it {
                Item::Bits(v, n) => assert_eq!(u.bits(n)?, v),
                Item::Uint(v, k) => assert_eq!(u.uint(k)?, v),
                Item::Sint(v, k) => assert_eq!(u.sint(k)?, v),
            }
        }
        u.finish()
    }

    proptest! {
        #[test]
        fn bits_round_trip(items in prop::collection::vec(item(), 0..50)) {
            let mut w = BitWriter::new();
            write(&mut w, &items);
            let bytes = w.into_bytes();
            prop_assert_eq!(read(&mut BitReader::new(&bytes), &items), Ok(()));
        }

        #[test]
        fn bytes_round_trip(items in prop::collection::vec(item(), 0..50)) {
            let mut w = ByteWriter::new();
            write(&mut w, &items);
            let bytes = w.into_bytes();
            prop_assert_eq!(read(&mut ByteReader::new(&bytes), &items), Ok(()));
        }

        #[test]
        fn appended_bit_writers_equal_one_writer(a in prop::collection::vec(item(), 0..20), b in prop::collection::vec(item(), 0..20)) {
            let (mut wa, mut wb, mut whole) = (BitWriter::new(), BitWriter::new(), BitWriter::new());
            write(&mut wa, &a);
            write(&mut wb, &b);
            wa.append(&wb);
            write(&mut whole, &a);
            write(&mut whole, &b);
            prop_assert_eq!(wa.into_bytes(), whole.into_bytes());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), k in 0u32..20) {
            let mut r = BitReader::new(&bytes);
            while r.uint(k).is_ok() {}
            let mut r = ByteReader::new(&bytes);
            while r.uint(k).is_ok() {}
        }
    }

    #[test]
    fn small_values_are_small() {
        let mut w = BitWriter::new();
        w.uint(0, 0);
        assert_eq!(w.bit_len(), 1);
        w.uint(1, 0);
        assert_eq!(w.bit_len(), 4);
        let mut w = BitWriter::new();
        w.uint(u32::MAX, 0);
        assert_eq!(w.bit_len(), 65);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(unzigzag(zigzag(i32::MIN)), i32::MIN);
    }
}
