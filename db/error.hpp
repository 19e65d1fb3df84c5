#pragma once
#include <stdexcept>

namespace portcullis::db {

// A failure of the store itself (I/O, corruption, lock held too long).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A UNIQUE / FOREIGN KEY / CHECK constraint refused a write.
struct ConstraintError : Error {
    using Error::Error;
};

}  // namespace portcullis::db
