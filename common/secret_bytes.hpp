#pragma once
// SecretBytes: a byte buffer for key material and codes that is wiped
// (OPENSSL_cleanse) when it is destroyed or cleared. Move-only.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace portcullis {

class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::size_t size) : bytes_(size) {}
    SecretBytes(const std::uint8_t* data, std::size_t size) : bytes_(data, data + size) {}
    explicit SecretBytes(std::string_view text) : bytes_(text.begin(), text.end()) {}
    ~SecretBytes() { clear(); }

    SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
        other.bytes_.clear();
    }
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;

    std::uint8_t* data() { return bytes_.data(); }
    const std::uint8_t* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }
    std::string_view view() const {
        return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
    }
    // Wipes and empties the buffer.
    void clear();

  private:
    std::vector<std::uint8_t> bytes_;
};

// Constant-time equality of two byte strings (length is not secret).
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace portcullis
