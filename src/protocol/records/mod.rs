//! RecordBatch v2 codec (and legacy v0/v1 message-set decoding).
