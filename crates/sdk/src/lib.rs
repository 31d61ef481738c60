//! umbra sdk (in progress).
