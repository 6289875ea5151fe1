//! Primitives of the record format: zigzag varints/varlongs and a checked
//! reader over a `Bytes` that hands out zero-copy slices.

use bytes::{BufMut, Bytes};

/// Why bytes could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The input ended before the value.
    Truncated,
    /// A varint longer than its type allows.
    VarintTooLong,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadError::Truncated => "input truncated",
            ReadError::VarintTooLong => "varint too long",
        })
    }
}

/// Number of bytes `put_varint(v)` writes.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(zigzag32(v) as u64)
}

/// Number of bytes `put_varlong(v)` writes.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    uvarint_len(zigzag64(v))
}

#[inline]
fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[inline]
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Writes an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zigzag varint (Kafka's `varint`).
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, zigzag32(v) as u64);
}

/// Writes a zigzag varlong (Kafka's `varlong`).
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarint(buf, zigzag64(v));
}

/// A bounds-checked cursor over `Bytes`. Every read fails cleanly on short
/// input; `bytes` returns slices sharing the buffer (no copy).
#[derive(Debug, Clone)]
pub struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader at the start of `data`.
    pub fn new(data: Bytes) -> Reader {
        Reader { data, pos: 0 }
    }

    /// Bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Current position from the start.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let end = self.pos.checked_add(N).ok_or(ReadError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(ReadError::Truncated)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        self.pos = end;
        Ok(out)
    }

    /// Reads an i8.
    #[inline]
    pub fn i8(&mut self) -> Result<i8, ReadError> {
        Ok(i8::from_be_bytes(self.take::<1>()?))
    }

    /// Reads a big-endian i16.
    #[inline]
    pub fn i16(&mut self) -> Result<i16, ReadError> {
        Ok(i16::from_be_bytes(self.take::<2>()?))
    }

    /// Reads a big-endian i32.
    #[inline]
    pub fn i32(&mut self) -> Result<i32, ReadError> {
        Ok(i32::from_be_bytes(self.take::<4>()?))
    }

    /// Reads a big-endian u32.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_be_bytes(self.take::<4>()?))
    }

    /// Reads a big-endian i64.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, ReadError> {
        Ok(i64::from_be_bytes(self.take::<8>()?))
    }

    #[inline]
    fn uvarint(&mut self, max_bytes: usize) -> Result<u64, ReadError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = *self.data.get(self.pos).ok_or(ReadError::Truncated)?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ReadError::VarintTooLong)
    }

    /// Reads a zigzag varint (at most 5 bytes).
    #[inline]
    pub fn varint(&mut self) -> Result<i32, ReadError> {
        let u = self.uvarint(5)? as u32;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    /// Reads a zigzag varlong (at most 10 bytes).
    #[inline]
    pub fn varlong(&mut self) -> Result<i64, ReadError> {
        let u = self.uvarint(10)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// The next `len` bytes as a shared slice.
    #[inline]
    pub fn bytes(&mut self, len: usize) -> Result<Bytes, ReadError> {
        let end = self.pos.checked_add(len).ok_or(ReadError::Truncated)?;
        if end > self.data.len() {
            return Err(ReadError::Truncated);
        }
        let out = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), ReadError> {
        let end = self.pos.checked_add(len).ok_or(ReadError::Truncated)?;
        if end > self.data.len() {
            return Err(ReadError::Truncated);
        }
        self.pos = end;
        Ok(())
    }

    /// Bytes of length given by a varint prefix; `-1` means null.
    #[inline]
    pub fn varint_bytes(&mut self) -> Result<Option<Bytes>, ReadError> {
        match self.varint()? {
            n if n < 0 => Ok(None),
            n => self.bytes(n as usize).map(Some),
        }
    }

    /// Bytes of length given by an i32 prefix (legacy format); `-1` means null.
    pub fn i32_bytes(&mut self) -> Result<Option<Bytes>, ReadError> {
        match self.i32()? {
            n if n < 0 => Ok(None),
            n => self.bytes(n as usize).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut b = BytesMut::new();
        put_varint(&mut b, 0);
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_varint(&mut b, 300);
        assert_eq!(&b[..], &[0x00, 0x01, 0x02, 0xd8, 0x04]);
        assert_eq!(varint_len(i32::MIN), 5);
        assert_eq!(varlong_len(i64::MIN), 10);
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
        assert_eq!(r.varint(), Err(ReadError::VarintTooLong));
        let mut r = Reader::new(Bytes::from_static(&[0x80]));
        assert_eq!(r.varlong(), Err(ReadError::Truncated));
        let mut r = Reader::new(Bytes::from_static(&[0x10]));
        assert_eq!(r.varint_bytes(), Err(ReadError::Truncated));
    }

    proptest! {
        #[test]
        fn varint_round_trips(v in any::<i32>()) {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            prop_assert_eq!(b.len(), varint_len(v));
            prop_assert_eq!(Reader::new(b.freeze()).varint(), Ok(v));
        }

        #[test]
        fn varlong_round_trips(v in any::<i64>()) {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            prop_assert_eq!(b.len(), varlong_len(v));
            prop_assert_eq!(Reader::new(b.freeze()).varlong(), Ok(v));
        }

        #[test]
        fn fixed_width_round_trip(a in any::<i8>(), b in any::<i16>(), c in any::<i32>(), d in any::<i64>()) {
            let mut buf = BytesMut::new();
            buf.put_i8(a); buf.put_i16(b); buf.put_i32(c); buf.put_i64(d);
            let mut r = Reader::new(buf.freeze());
            prop_assert_eq!((r.i8(), r.i16(), r.i32(), r.i64()), (Ok(a), Ok(b), Ok(c), Ok(d)));
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(Bytes::from(data));
            while r.remaining() > 0 {
                if r.varlong().is_err() || r.varint_bytes().is_err() || r.i32_bytes().is_err() {
                    break;
                }
            }
        }
    }
}
