#include "common/ssh_public_key.hpp"

#include <array>

#include "common/encoding.hpp"

namespace portcullis {

namespace {

constexpr std::size_t kMaxLine = 16 * 1024;
constexpr std::size_t kMaxBlob = 16 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;  // OpenSSH's own ceiling

struct Curve {
    std::string_view keyType;
    std::string_view name;
    std::size_t pointLength;
    int bits;
};
constexpr std::array<Curve, 3> kCurves{{
    {"ecdsa-sha2-nistp256", "nistp256", 65, 256},
    {"ecdsa-sha2-nistp384", "nistp384", 97, 384},
    {"ecdsa-sha2-nistp521", "nistp521", 133, 521},
}};

constexpr std::array<std::string_view, 7> kAcceptedTypes{"ssh-ed25519",
                                                         "ecdsa-sha2-nistp256",
                                                         "ecdsa-sha2-nistp384",
                                                         "ecdsa-sha2-nistp521",
                                                         "ssh-rsa",
                                                         "sk-ssh-ed25519@openssh.com",
                                                         "sk-ecdsa-sha2-nistp256@openssh.com"};

bool isAccepted(std::string_view type) {
    for (const auto t : kAcceptedTypes) {
        if (t == type) return true;
    }
    return false;
}

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (s.size() > 64) out += "...";
    return out;
}

Error refuseType(std::string_view type) {
    if (type == "ssh-dss") return makeError("DSA keys (ssh-dss) are refused: use ssh-ed25519");
    if (type.find("-cert-v01@openssh.com") != std::string_view::npos) {
        return makeError("certificates (" + printable(type) +
                         ") are not accepted: give the plain public key");
    }
    return makeError("unsupported key type \"" + printable(type) +
                     "\": use ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (2048 bits or "
                     "more), sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com");
}

// SSH wire format reader (RFC 4251 section 5), never reads past the end.
class WireReader {
  public:
    explicit WireReader(std::string_view data) : data_(data) {}
    bool atEnd() const { return pos_ == data_.size(); }
    bool string(std::string_view& out) {
        if (data_.size() - pos_ < 4) return false;
        std::uint32_t len = 0;
        for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<std::uint8_t>(data_[pos_ + i]);
        if (len > data_.size() - pos_ - 4) return false;
        out = data_.substr(pos_ + 4, len);
        pos_ += 4 + static_cast<std::size_t>(len);
        return true;
    }

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

// Bits of a positive mpint; -1 when negative or malformed.
int mpintBits(std::string_view m) {
    if (!m.empty() && (static_cast<unsigned char>(m[0]) & 0x80)) return -1;  // negative
    std::size_t i = 0;
    while (i < m.size() && m[i] == 0) ++i;  // leading zero byte(s)
    if (i == m.size()) return 0;
    if (m.size() - i > static_cast<std::size_t>(kMaxRsaBits / 8 + 1)) return -1;
    int bits = static_cast<int>(m.size() - i - 1) * 8;
    for (auto top = static_cast<unsigned char>(m[i]); top != 0; top >>= 1) ++bits;
    return bits;
}

bool isOdd(std::string_view m) {
    return !m.empty() && (static_cast<unsigned char>(m.back()) & 1) != 0;
}

Error bad(std::string_view type, std::string_view why) {
    return makeError("malformed " + std::string(type) + " key: " + std::string(why));
}

bool isSpace(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

Result<SshPublicKey> SshPublicKey::fromBlob(std::string_view blob) {
    if (blob.size() > kMaxBlob) return makeError("public key too large");
    WireReader r(blob);
    std::string_view type;
    if (!r.string(type) || type.empty()) return makeError("malformed public key: no key type");
    if (!isAccepted(type)) return refuseType(type);

    SshPublicKey key;
    key.type = std::string(type);
    key.blob.assign(blob.begin(), blob.end());
    if (type == "ssh-ed25519" || type == "sk-ssh-ed25519@openssh.com") {
        std::string_view pk;
        if (!r.string(pk) || pk.size() != 32) return bad(type, "the key must be 32 bytes");
        if (type != "ssh-ed25519") {
            std::string_view application;
            if (!r.string(application) || application.empty()) {
                return bad(type, "missing application string");
            }
        }
        key.bits = 256;
    } else if (type == "ssh-rsa") {
        std::string_view e, n;
        if (!r.string(e) || !r.string(n)) return bad(type, "truncated");
        const int eBits = mpintBits(e);
        if (eBits < 2 || eBits > 64 || !isOdd(e)) return bad(type, "bad public exponent");
        const int nBits = mpintBits(n);
        if (nBits < 0 || !isOdd(n)) return bad(type, "bad modulus");
        if (nBits < kMinRsaBits) {
            return makeError("RSA key too small (" + std::to_string(nBits) +
                             " bits): at least 2048 bits are required; prefer ssh-ed25519");
        }
        if (nBits > kMaxRsaBits) {
            return makeError("RSA key too large (" + std::to_string(nBits) +
                             " bits): at most 16384 bits");
        }
        key.bits = nBits;
    } else {
        // ecdsa-sha2-* and sk-ecdsa-sha2-nistp256@openssh.com
        const bool sk = type == "sk-ecdsa-sha2-nistp256@openssh.com";
        const std::string_view plainType = sk ? std::string_view("ecdsa-sha2-nistp256") : type;
        const Curve* curve = nullptr;
        for (const Curve& c : kCurves) {
            if (c.keyType == plainType) curve = &c;
        }
        if (curve == nullptr) return refuseType(type);  // not reached: isAccepted
        std::string_view curveName, point;
        if (!r.string(curveName) || curveName != curve->name) {
            return bad(type, "curve name does not match the key type");
        }
        if (!r.string(point) || point.size() != curve->pointLength || point[0] != 0x04) {
            return bad(type, "bad curve point");
        }
        if (sk) {
            std::string_view application;
            if (!r.string(application) || application.empty()) {
                return bad(type, "missing application string");
            }
        }
        key.bits = curve->bits;
    }
    if (!r.atEnd()) return bad(type, "trailing bytes after the key");
    return key;
}

Result<SshPublicKey> SshPublicKey::parseLine(std::string_view line) {
    if (line.size() > kMaxLine) return makeError("public key line too long (more than 16 KiB)");
    if (line.find('\0') != std::string_view::npos) {
        return makeError("public key line contains a NUL byte");
    }
    // Trim surrounding whitespace, including one trailing newline.
    const auto isWs = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!line.empty() && isWs(line.front())) line.remove_prefix(1);
    while (!line.empty() && isWs(line.back())) line.remove_suffix(1);
    if (line.empty()) return makeError("empty public key");
    if (line.find_first_of("\r\n") != std::string_view::npos) {
        return makeError("give exactly one public key line");
    }
    std::size_t pos = 0;
    while (pos < line.size() && !isSpace(line[pos])) ++pos;
    const std::string_view type = line.substr(0, pos);
    while (pos < line.size() && isSpace(line[pos])) ++pos;
    std::size_t end = pos;
    while (end < line.size() && !isSpace(line[end])) ++end;
    const std::string_view data = line.substr(pos, end - pos);
    while (end < line.size() && isSpace(line[end])) ++end;
    const std::string_view comment = line.substr(end);

    if (!isAccepted(type)) {
        const bool looksLikeOptions = type.find_first_of("=,\"") != std::string_view::npos ||
                                      type == "restrict" || type.rfind("no-", 0) == 0 ||
                                      type == "cert-authority";
        // A key type later on the line also means an options prefix.
        const bool typeLater = isAccepted(data) || (!comment.empty() && [&] {
                                   for (const auto t : kAcceptedTypes) {
                                       if (comment.find(t) != std::string_view::npos) return true;
                                   }
                                   return false;
                               }());
        if (looksLikeOptions || (typeLater && type != "ssh-dss")) {
            return makeError(
                "authorized_keys options are not accepted: give only \"TYPE BASE64 [COMMENT]\"");
        }
        return refuseType(type);
    }
    if (data.empty()) return makeError("missing key data after \"" + std::string(type) + "\"");
    const auto decoded = base64Decode(data);
    if (!decoded) return makeError("key data is not valid base64");
    const std::string_view blob(reinterpret_cast<const char*>(decoded->data()), decoded->size());
    auto key = fromBlob(blob);
    if (!key) return key;
    if (key->type != type) {
        return makeError("key type \"" + std::string(type) + "\" does not match the key data (" +
                         key->type + ")");
    }
    for (const char c : comment) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            return makeError("public key comment contains control characters");
        }
    }
    key->comment = std::string(comment);
    return key;
}

std::string SshPublicKey::fingerprint() const {
    const std::string_view b(reinterpret_cast<const char*>(blob.data()), blob.size());
    return "SHA256:" + base64Encode(sha256(b), false);
}

std::string SshPublicKey::toLine() const {
    const std::string_view b(reinterpret_cast<const char*>(blob.data()), blob.size());
    return type + " " + base64Encode(b);
}

}  // namespace portcullis
