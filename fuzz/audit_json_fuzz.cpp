// The audit chain's canonical JSON and hash (db/audit.hpp), over event details
// made from the input: JSON when it parses, else the raw bytes as a string (the
// gateway puts client-chosen text such as user names and commands in details).
//
// Properties: canonicalJson never throws; it is a fixed point (what is stored
// and read back hashes the same); and a real chain, recorded through AuditLog
// into a store and its audit.log mirror, verifies.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/state_dir.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace portcullis;

// A migrated, empty store made once; each input gets a fresh copy of it.
struct Stores {
    fuzz::ScratchDir scratch;
    fs::path pristine = scratch.path() / "pristine.db";
    fs::path root = scratch.path() / "state";
    Stores() {
        fs::create_directories(root);
        db::OpenOptions options;
        options.create = true;
        auto database = db::Database::openFile(pristine, options);
        FUZZ_CHECK_MSG(database, database ? std::string() : database.error());
    }
};

db::Database freshStore(const Stores& stores) {
    for (const char* name :
         {"portcullis.db", "portcullis.db-wal", "portcullis.db-shm", "audit.log"}) {
        fs::remove(stores.root / name);
    }
    fs::copy_file(stores.pristine, stores.root / "portcullis.db");
    auto database = db::Database::openFile(stores.root / "portcullis.db");
    FUZZ_CHECK_MSG(database, database ? std::string() : database.error());
    return std::move(database.value());
}

void checkCanonical(const json& value) {
    const std::string canonical = db::canonicalJson(value);
    const json back = json::parse(canonical, nullptr, false);
    FUZZ_CHECK_MSG(!back.is_discarded(), canonical);
    FUZZ_CHECK_MSG(db::canonicalJson(back) == canonical, canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Stores kStores;
    const std::string_view input = fuzz::asText(data, size);

    json parsed = json::parse(input, nullptr, false);
    const bool isJson = !parsed.is_discarded();
    json details;
    if (isJson && parsed.is_object()) {
        details = std::move(parsed);
    } else if (isJson) {
        details = json{{"value", std::move(parsed)}};
    } else {
        details = json{{"text", std::string(input)}};  // any bytes, invalid UTF-8 included
    }
    checkCanonical(details);

    auto database = freshStore(kStores);
    const db::StateDir mirror(kStores.root);
    db::AuditLog audit(database, &mirror, /*syslog=*/false);
    db::AuditEvent event;
    event.type = "fuzz.event";
    event.actor = std::string(input.substr(0, 32));  // client-chosen, may be any bytes
    event.source = std::string(input.substr(input.size() / 2, 16));
    event.details = details;
    bool recorded = false;
    try {
        audit.record(event);
        audit.record(event);  // a second row chained to the first
        recorded = true;
    } catch (const std::invalid_argument&) {
        // A details key named like a secret: refused, and nothing written.
    }
    const auto report = audit.verify();
    FUZZ_CHECK_MSG(report.ok(), report.problems.front().text);
    FUZZ_CHECK(report.checked == (recorded ? 2 : 0));
    if (recorded) {
        const auto records = audit.list({});
        FUZZ_CHECK(records.size() == 2);
        for (const auto& record : records) {
            FUZZ_CHECK(record.hash.size() == 64);
            checkCanonical(record.toJson());
        }
        FUZZ_CHECK(records[1].prevHash == records[0].hash);
    }
    return 0;
}
