//! Serializers and deserializers (placeholder).
