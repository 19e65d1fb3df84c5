#pragma once
#include <stdexcept>
#include <string>

namespace portcullis::db {

// A failure of the store itself (I/O, corruption, lock held too long).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A UNIQUE / FOREIGN KEY / CHECK constraint refused a write.
struct ConstraintError : Error {
    using Error::Error;
};
// Another connection held the store's write lock past the busy timeout: the
// same work, retried later, may succeed (the transaction was rolled back).
struct BusyError : Error {
    using Error::Error;
};
// The store cannot take writes because its disk is full (SQLITE_FULL, or a
// write the file system refused for lack of space): the transaction was
// rolled back, and the same work may succeed once space is freed.
struct FullError : Error {
    using Error::Error;
};

// Throws the Error that fits SQLite result code `rc` (extended codes too).
[[noreturn]] void throwStoreError(int rc, const std::string& message);

}  // namespace portcullis::db
