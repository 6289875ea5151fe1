//! Serializers and deserializers: how record keys and values become bytes
//! and back (Java's `org.apache.kafka.common.serialization`).
//!
//! A [`Serializer<T>`] turns a `T` into the bytes of a key or value, or into
//! `None`, Kafka's null (a null value is a tombstone on a compacted topic).
//! A [`Deserializer<T>`] does the reverse. Both are object safe and
//! `Send + Sync`, so a producer or consumer can hold an
//! `Arc<dyn Serializer<K>>`.
//!
//! [`DefaultSerde`] covers the types that need no schema, with the byte
//! layouts of Java's built-in serializers so other clients can read them:
//!
//! | Rust type | bytes | Java class |
//! |---|---|---|
//! | `Bytes`, `Vec<u8>`, `[u8]`, `&[u8]` | as they are | `ByteArraySerializer`, `BytesSerializer` |
//! | `String`, `str`, `&str` | UTF-8 | `StringSerializer` (UTF-8 default) |
//! | `i16`, `i32`, `i64` | big-endian, 2/4/8 bytes | `ShortSerializer`, `IntegerSerializer`, `LongSerializer` |
//! | `f32`, `f64` | IEEE 754 bits, big-endian | `FloatSerializer`, `DoubleSerializer` |
//! | `bool` | one byte, 1 or 0 | `BooleanSerializer` |
//! | `()` | always null | `VoidSerializer` |
//! | `Option<T>` | `None` is null, `Some(t)` as `T` | (Java's `null`) |
//!
//! Null needs an `Option`: deserializing null into a plain `String`, `i32`,
//! ... is an error, since there is no value to give; deserialize into
//! `Option<String>` to accept tombstones. `()` is the reverse: it only
//! accepts null, like Java's `VoidDeserializer`.
//!
//! With the `json` cargo feature, `Json<T>` and `JsonSerde` encode any
//! serde type as JSON.
//!
//! ```
//! use bytes::Bytes;
//! use kafkit::serialization::{DefaultSerde, Deserializer, Serializer};
//!
//! let bytes = DefaultSerde.serialize("orders", &42i32)?;
//! assert_eq!(bytes.as_deref(), Some(&[0, 0, 0, 42][..]));
//! let back: i32 = DefaultSerde.deserialize("orders", bytes.as_ref())?;
//! assert_eq!(back, 42);
//!
//! // A tombstone: no value at all.
//! let none: Option<String> = None;
//! assert_eq!(DefaultSerde.serialize("orders", &none)?, None);
//! let read: Option<String> = DefaultSerde.deserialize("orders", None)?;
//! assert_eq!(read, None);
//! # Ok::<(), kafkit::Error>(())
//! ```

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Context, Error, Result};

/// Turns a `T` into the bytes of a record key or value: Java's
/// `Serializer<T>`.
///
/// `Ok(None)` is Kafka's null. The topic is passed because some formats
/// (schema registries) depend on it. Implementations must be `Send + Sync`
/// because one instance serves every task sending through a producer.
///
/// ```
/// use bytes::Bytes;
/// use kafkit::serialization::Serializer;
///
/// /// Writes temperatures as text with one decimal.
/// struct Celsius;
///
/// impl Serializer<f64> for Celsius {
///     fn serialize(&self, _topic: &str, value: &f64) -> kafkit::Result<Option<Bytes>> {
///         Ok(Some(Bytes::from(format!("{value:.1}"))))
///     }
/// }
///
/// let s: &dyn Serializer<f64> = &Celsius;
/// assert_eq!(s.serialize("t", &21.56).unwrap().as_deref(), Some(&b"21.6"[..]));
/// ```
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// The bytes for `value` in `topic`, or `None` for null.
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Bytes>>;
}

/// Turns the bytes of a record key or value into a `T`: Java's
/// `Deserializer<T>`.
///
/// `data` is `None` for Kafka's null. The bytes are a `Bytes` so that types
/// which can keep them (such as `Bytes` itself) do so without copying.
///
/// ```
/// use bytes::Bytes;
/// use kafkit::serialization::Deserializer;
///
/// /// Reads a key as a count of bytes, null counting as zero.
/// struct Length;
///
/// impl Deserializer<usize> for Length {
///     fn deserialize(&self, _topic: &str, data: Option<&Bytes>) -> kafkit::Result<usize> {
///         Ok(data.map_or(0, Bytes::len))
///     }
/// }
///
/// assert_eq!(Length.deserialize("t", Some(&Bytes::from_static(b"abc"))).unwrap(), 3);
/// assert_eq!(Length.deserialize("t", None).unwrap(), 0);
/// ```
pub trait Deserializer<T>: Send + Sync {
    /// The value read from `data` (`None` = null) in `topic`.
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<T>;
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for Arc<S> {
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Bytes>> {
        (**self).serialize(topic, value)
    }
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for Box<S> {
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Bytes>> {
        (**self).serialize(topic, value)
    }
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for &S {
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Bytes>> {
        (**self).serialize(topic, value)
    }
}

impl<T, D: Deserializer<T> + ?Sized> Deserializer<T> for Arc<D> {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<T> {
        (**self).deserialize(topic, data)
    }
}

impl<T, D: Deserializer<T> + ?Sized> Deserializer<T> for Box<D> {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<T> {
        (**self).deserialize(topic, data)
    }
}

impl<T, D: Deserializer<T> + ?Sized> Deserializer<T> for &D {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<T> {
        (**self).deserialize(topic, data)
    }
}

/// The serializer and deserializer for types that need no schema: bytes,
/// strings, Java's fixed-size numbers, `bool`, `()` and `Option` of these.
/// See the [module documentation](self) for the byte layouts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultSerde;

/// A serialization failure for `topic`: an [`Error::InvalidArgument`], as
/// Java's `SerializationException` is raised before anything is sent.
pub(crate) fn serialization_error(topic: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        reason: reason.into(),
        context: Context::default().with_topic(topic),
    }
}

/// The bytes of a non-null value, or the error for reading null into a type
/// that has no null.
fn require<'a>(topic: &str, data: Option<&'a Bytes>, type_name: &str) -> Result<&'a Bytes> {
    data.ok_or_else(|| {
        serialization_error(
            topic,
            format!("null where {type_name} was expected (deserialize into Option<{type_name}> to accept null)"),
        )
    })
}

// --- bytes -----------------------------------------------------------------

impl Serializer<Bytes> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &Bytes) -> Result<Option<Bytes>> {
        // A reference-count bump, no copy.
        Ok(Some(value.clone()))
    }
}

impl Serializer<Vec<u8>> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &Vec<u8>) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value)))
    }
}

impl Serializer<[u8]> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &[u8]) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value)))
    }
}

impl Serializer<&[u8]> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &&[u8]) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value)))
    }
}

impl Deserializer<Bytes> for DefaultSerde {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<Bytes> {
        // Shares the fetched buffer, no copy.
        require(topic, data, "Bytes").cloned()
    }
}

impl Deserializer<Vec<u8>> for DefaultSerde {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<Vec<u8>> {
        require(topic, data, "Vec<u8>").map(|b| b.to_vec())
    }
}

// --- strings ---------------------------------------------------------------

impl Serializer<String> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &String) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value.as_bytes())))
    }
}

impl Serializer<str> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &str) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value.as_bytes())))
    }
}

impl Serializer<&str> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &&str) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(value.as_bytes())))
    }
}

impl Deserializer<String> for DefaultSerde {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<String> {
        let data = require(topic, data, "String")?;
        // Validate in place, then copy once.
        std::str::from_utf8(data).map(str::to_owned).map_err(|e| {
            serialization_error(topic, format!("data is not valid UTF-8 for a String: {e}"))
        })
    }
}

// --- Java's fixed-size numbers ---------------------------------------------

/// Big-endian fixed-size encodings, as Java's `DataOutput` writes them.
macro_rules! fixed_size {
    ($($ty:ty => $java:literal),* $(,)?) => {$(
        impl Serializer<$ty> for DefaultSerde {
            fn serialize(&self, _topic: &str, value: &$ty) -> Result<Option<Bytes>> {
                Ok(Some(Bytes::copy_from_slice(&value.to_be_bytes())))
            }
        }

        impl Deserializer<$ty> for DefaultSerde {
            fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<$ty> {
                let data = require(topic, data, stringify!($ty))?;
                let array = <[u8; size_of::<$ty>()]>::try_from(data.as_ref()).map_err(|_| {
                    serialization_error(
                        topic,
                        format!(
                            "{} bytes received where {} expects {} ({})",
                            data.len(),
                            stringify!($ty),
                            size_of::<$ty>(),
                            $java,
                        ),
                    )
                })?;
                Ok(<$ty>::from_be_bytes(array))
            }
        }
    )*};
}

fixed_size! {
    i16 => "Java ShortDeserializer",
    i32 => "Java IntegerDeserializer",
    i64 => "Java LongDeserializer",
    f32 => "Java FloatDeserializer",
    f64 => "Java DoubleDeserializer",
}

impl Serializer<bool> for DefaultSerde {
    fn serialize(&self, _topic: &str, value: &bool) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::from_static(if *value { &[1] } else { &[0] })))
    }
}

impl Deserializer<bool> for DefaultSerde {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<bool> {
        // Java's BooleanDeserializer accepts exactly one byte, 0 or 1.
        match require(topic, data, "bool")?.as_ref() {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(serialization_error(
                topic,
                format!("byte {other:#04x} is neither 0 nor 1 for a bool"),
            )),
            other => Err(serialization_error(
                topic,
                format!("{} bytes received where bool expects 1", other.len()),
            )),
        }
    }
}

// --- null and Option ---------------------------------------------------------

impl Serializer<()> for DefaultSerde {
    fn serialize(&self, _topic: &str, _value: &()) -> Result<Option<Bytes>> {
        Ok(None)
    }
}

impl Deserializer<()> for DefaultSerde {
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<()> {
        // Java's VoidDeserializer: anything but null is an error, so a
        // `()` key does not silently drop data that was there.
        match data {
            None => Ok(()),
            Some(d) => Err(serialization_error(
                topic,
                format!("{} bytes received where () expects null", d.len()),
            )),
        }
    }
}

impl<T> Serializer<Option<T>> for DefaultSerde
where
    DefaultSerde: Serializer<T>,
{
    fn serialize(&self, topic: &str, value: &Option<T>) -> Result<Option<Bytes>> {
        match value {
            Some(v) => self.serialize(topic, v),
            None => Ok(None),
        }
    }
}

impl<T> Deserializer<Option<T>> for DefaultSerde
where
    DefaultSerde: Deserializer<T>,
{
    fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<Option<T>> {
        match data {
            Some(_) => self.deserialize(topic, data).map(Some),
            None => Ok(None),
        }
    }
}

// --- JSON --------------------------------------------------------------------

#[cfg(feature = "json")]
pub use json::{Json, JsonSerde};

#[cfg(feature = "json")]
mod json {
    use bytes::Bytes;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::{DefaultSerde, Deserializer, Result, Serializer, serialization_error};

    /// A value that [`DefaultSerde`] writes and reads as JSON (feature
    /// `json`).
    ///
    /// JSON `null` and Kafka's null are the same: a value that serializes
    /// to `null` (such as `Json(None::<T>)`) is sent as a Kafka null, and a
    /// Kafka null is read as if it were the text `null`.
    ///
    /// ```
    /// use kafkit::serialization::{DefaultSerde, Deserializer, Json, Serializer};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Order {
    ///     id: u64,
    ///     item: String,
    /// }
    ///
    /// let order = Json(Order { id: 7, item: "tea".into() });
    /// let bytes = DefaultSerde.serialize("orders", &order)?;
    /// assert_eq!(bytes.as_deref(), Some(&br#"{"id":7,"item":"tea"}"#[..]));
    /// let back: Json<Order> = DefaultSerde.deserialize("orders", bytes.as_ref())?;
    /// assert_eq!(back, order);
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Json<T>(pub T);

    impl<T> Json<T> {
        /// The wrapped value.
        pub fn into_inner(self) -> T {
            self.0
        }
    }

    /// Serializes any serde type as JSON and deserializes it back (feature
    /// `json`), without the [`Json`] wrapper. Null works as for [`Json`].
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use kafkit::serialization::{Deserializer, JsonSerde, Serializer};
    ///
    /// let counts = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 2)]);
    /// let bytes = JsonSerde.serialize("counts", &counts)?;
    /// assert_eq!(bytes.as_deref(), Some(&br#"{"a":1,"b":2}"#[..]));
    /// let back: BTreeMap<String, i32> = JsonSerde.deserialize("counts", bytes.as_ref())?;
    /// assert_eq!(back, counts);
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct JsonSerde;

    fn to_json<T: Serialize + ?Sized>(topic: &str, value: &T) -> Result<Option<Bytes>> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            serialization_error(topic, format!("cannot serialize value as JSON: {e}"))
        })?;
        if bytes == b"null" {
            Ok(None)
        } else {
            Ok(Some(Bytes::from(bytes)))
        }
    }

    fn from_json<T: DeserializeOwned>(topic: &str, data: Option<&Bytes>) -> Result<T> {
        let text: &[u8] = data.map_or(b"null", |d| d.as_ref());
        serde_json::from_slice(text)
            .map_err(|e| serialization_error(topic, format!("invalid JSON for this type: {e}")))
    }

    impl<T: Serialize + ?Sized> Serializer<T> for JsonSerde {
        fn serialize(&self, topic: &str, value: &T) -> Result<Option<Bytes>> {
            to_json(topic, value)
        }
    }

    impl<T: DeserializeOwned> Deserializer<T> for JsonSerde {
        fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<T> {
            from_json(topic, data)
        }
    }

    impl<T: Serialize> Serializer<Json<T>> for DefaultSerde {
        fn serialize(&self, topic: &str, value: &Json<T>) -> Result<Option<Bytes>> {
            to_json(topic, &value.0)
        }
    }

    impl<T: DeserializeOwned> Deserializer<Json<T>> for DefaultSerde {
        fn deserialize(&self, topic: &str, data: Option<&Bytes>) -> Result<Json<T>> {
            from_json(topic, data).map(Json)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Event {
            id: u32,
            tags: Vec<String>,
        }

        #[test]
        fn json_round_trip() {
            let e = Json(Event {
                id: 3,
                tags: vec!["x".into()],
            });
            let bytes = DefaultSerde.serialize("t", &e).unwrap();
            assert_eq!(bytes.as_deref(), Some(&br#"{"id":3,"tags":["x"]}"#[..]));
            let back: Json<Event> = DefaultSerde.deserialize("t", bytes.as_ref()).unwrap();
            assert_eq!(back, e);
        }

        #[test]
        fn json_null_is_kafka_null() {
            assert_eq!(JsonSerde.serialize("t", &None::<Event>).unwrap(), None);
            assert_eq!(DefaultSerde.serialize("t", &Json(())).unwrap(), None);
            let read: Option<Event> = JsonSerde.deserialize("t", None).unwrap();
            assert_eq!(read, None);
            // A null cannot become an Event.
            let err = Deserializer::<Event>::deserialize(&JsonSerde, "t", None).unwrap_err();
            assert!(err.to_string().contains("invalid JSON"), "{err}");
        }

        #[test]
        fn bad_json_is_an_error_naming_the_topic() {
            let data = Bytes::from_static(b"{\"id\":");
            let err =
                Deserializer::<Event>::deserialize(&JsonSerde, "events", Some(&data)).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("invalid JSON") && text.contains("topic=events"),
                "{text}"
            );
        }

        #[test]
        fn unserializable_value_is_an_error() {
            // JSON object keys must be strings.
            let map = std::collections::HashMap::from([((1, 2), 3)]);
            assert!(JsonSerde.serialize("t", &map).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser<T: ?Sized>(value: &T) -> Option<Bytes>
    where
        DefaultSerde: Serializer<T>,
    {
        DefaultSerde.serialize("t", value).unwrap()
    }

    fn de<T>(data: Option<&[u8]>) -> Result<T>
    where
        DefaultSerde: Deserializer<T>,
    {
        let data = data.map(Bytes::copy_from_slice);
        DefaultSerde.deserialize("t", data.as_ref())
    }

    #[test]
    fn bytes_and_strings_pass_through() {
        let b = Bytes::from_static(b"\x00\xffraw");
        assert_eq!(ser(&b), Some(b.clone()));
        assert_eq!(ser(&b.to_vec()), Some(b.clone()));
        assert_eq!(ser(&b[..]), Some(b.clone()));
        assert_eq!(ser(&&b[..]), Some(b.clone()));
        assert_eq!(de::<Bytes>(Some(&b)).unwrap(), b);
        assert_eq!(de::<Vec<u8>>(Some(&b)).unwrap(), b.to_vec());

        assert_eq!(ser("héllo").as_deref(), Some("héllo".as_bytes()));
        assert_eq!(ser(&"héllo").as_deref(), Some("héllo".as_bytes()));
        assert_eq!(
            ser(&"héllo".to_string()).as_deref(),
            Some("héllo".as_bytes())
        );
        assert_eq!(de::<String>(Some("héllo".as_bytes())).unwrap(), "héllo");
        // Empty is a value, not null.
        assert_eq!(ser(""), Some(Bytes::new()));
        assert_eq!(de::<String>(Some(b"")).unwrap(), "");
    }

    #[test]
    fn deserializing_bytes_shares_the_buffer() {
        let data = Bytes::from(vec![1u8, 2, 3]);
        let out: Bytes = DefaultSerde.deserialize("t", Some(&data)).unwrap();
        assert_eq!(out.as_ptr(), data.as_ptr());
    }

    #[test]
    fn invalid_utf8_is_a_clear_error() {
        let err = de::<String>(Some(b"ok\xff")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("not valid UTF-8") && text.contains("topic=t"),
            "{text}"
        );
        assert!(!err.is_retriable());
    }

    #[test]
    fn numbers_use_javas_big_endian_layouts() {
        // Java: IntegerSerializer writes 42 as 00 00 00 2a, LongSerializer
        // -2 as ff..fe, ShortSerializer 258 as 01 02.
        assert_eq!(ser(&42i32).as_deref(), Some(&[0, 0, 0, 42][..]));
        assert_eq!(
            ser(&-2i64).as_deref(),
            Some(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe][..])
        );
        assert_eq!(ser(&258i16).as_deref(), Some(&[1, 2][..]));
        // 1.0f32 is 0x3f800000; 1.0f64 is 0x3ff0000000000000.
        assert_eq!(ser(&1.0f32).as_deref(), Some(&[0x3f, 0x80, 0, 0][..]));
        assert_eq!(
            ser(&1.0f64).as_deref(),
            Some(&[0x3f, 0xf0, 0, 0, 0, 0, 0, 0][..])
        );

        assert_eq!(de::<i32>(Some(&[0xff, 0xff, 0xff, 0xd6])).unwrap(), -42);
        assert_eq!(de::<i16>(Some(&[1, 2])).unwrap(), 258);
        assert_eq!(de::<i64>(Some(&(-7i64).to_be_bytes())).unwrap(), -7);
        assert_eq!(de::<f32>(Some(&[0x3f, 0x80, 0, 0])).unwrap(), 1.0);
        assert_eq!(de::<f64>(Some(&2.5f64.to_be_bytes())).unwrap(), 2.5);
    }

    #[test]
    fn wrong_sized_numbers_are_errors() {
        let err = de::<i32>(Some(&[0, 0, 1])).unwrap_err();
        assert!(
            err.to_string()
                .contains("3 bytes received where i32 expects 4"),
            "{err}"
        );
        assert!(de::<i64>(Some(&[0; 9])).is_err());
        assert!(de::<i16>(Some(&[])).is_err());
    }

    #[test]
    fn bools_are_one_byte_zero_or_one() {
        assert_eq!(ser(&true).as_deref(), Some(&[1][..]));
        assert_eq!(ser(&false).as_deref(), Some(&[0][..]));
        assert!(de::<bool>(Some(&[1])).unwrap());
        assert!(!de::<bool>(Some(&[0])).unwrap());
        assert!(de::<bool>(Some(&[2])).is_err());
        assert!(de::<bool>(Some(&[1, 0])).is_err());
        assert!(de::<bool>(Some(&[])).is_err());
    }

    #[test]
    fn null_needs_an_option_and_unit_needs_null() {
        let err = de::<String>(None).unwrap_err();
        assert!(err.to_string().contains("Option<String>"), "{err}");
        assert!(de::<Bytes>(None).is_err());
        assert!(de::<i32>(None).is_err());

        assert_eq!(de::<Option<String>>(None).unwrap(), None);
        assert_eq!(de::<Option<String>>(Some(b"x")).unwrap(), Some("x".into()));
        assert_eq!(de::<Option<i32>>(Some(&[0, 0, 0, 1])).unwrap(), Some(1));
        // The inner type's errors come through.
        assert!(de::<Option<i32>>(Some(&[0])).is_err());

        assert_eq!(ser(&()), None);
        assert_eq!(ser(&None::<String>), None);
        assert_eq!(ser(&Some(7i32)).as_deref(), Some(&[0, 0, 0, 7][..]));
        de::<()>(None).unwrap();
        assert!(de::<()>(Some(b"")).is_err());
    }

    #[test]
    fn traits_are_object_safe_and_forward_through_pointers() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn Serializer<String>>();
        assert_send_sync::<dyn Deserializer<String>>();

        let s: Arc<dyn Serializer<String>> = Arc::new(DefaultSerde);
        assert_eq!(
            s.serialize("t", &"a".to_string()).unwrap().as_deref(),
            Some(&b"a"[..])
        );
        let boxed: Box<dyn Serializer<str>> = Box::new(DefaultSerde);
        assert_eq!(
            boxed.serialize("t", "b").unwrap().as_deref(),
            Some(&b"b"[..])
        );
        let d: Arc<dyn Deserializer<i32>> = Arc::new(DefaultSerde);
        assert_eq!(
            d.deserialize("t", Some(&Bytes::from_static(&[0, 0, 0, 9])))
                .unwrap(),
            9
        );
        // An `Arc<dyn ...>` is itself a serializer, so generic code accepts it.
        fn takes<S: Serializer<String>>(s: S) -> Option<Bytes> {
            s.serialize("t", &"c".to_string()).unwrap()
        }
        assert_eq!(takes(s).as_deref(), Some(&b"c"[..]));
    }
}
