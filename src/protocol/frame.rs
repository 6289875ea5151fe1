//! Size-prefixed frames and request/response headers.
