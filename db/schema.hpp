#pragma once
#include "db/database.hpp"

namespace portcullis::db {

// PRAGMA application_id of a Portcullis store ("PCLS"): tells our file from a foreign one.
inline constexpr int kApplicationId = 0x50434C53;
// The schema version this binary writes; see schema.cpp for the migrations.
int currentSchemaVersion();

// Brings an open database to currentSchemaVersion(). Refuses a newer schema
// (written by a newer Portcullis) and a foreign SQLite file.
Result<void> migrate(Database& db);

}  // namespace portcullis::db
