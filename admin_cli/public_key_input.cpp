#include "admin_cli/public_key_input.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

#include "admin_cli/cli_error.hpp"

namespace portcullis::cli {
namespace {

// An authorized_keys file with a few keys is tiny; anything larger is not one.
constexpr std::size_t kMaxKeyInput = 256 * 1024;

std::string readAll(std::istream& in, const std::string& name) {
    std::string text;
    char buffer[4096];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxKeyInput) {
            throw Failure(name + " is too large to be a public key file");
        }
    }
    if (in.bad()) throw Failure("cannot read " + name);
    return text;
}

std::string trim(const std::string& line) {
    const char* space = " \t\r\n\v\f";
    const auto first = line.find_first_not_of(space);
    if (first == std::string::npos) return {};
    return line.substr(first, line.find_last_not_of(space) - first + 1);
}

}  // namespace

SshPublicKey readOnePublicKey(const std::string& source) {
    const bool fromStdin = source == "-";
    const std::string name = fromStdin ? "standard input" : source;
    std::string text;
    if (fromStdin) {
        if (::isatty(STDIN_FILENO)) {
            std::cerr << "Paste the public key line (e.g. the content of id_ed25519.pub), "
                         "then press Ctrl-D:\n";
        }
        text = readAll(std::cin, name);
    } else {
        std::ifstream file(source, std::ios::binary);
        if (!file) throw Failure("cannot read " + source + ": " + std::strerror(errno));
        text = readAll(file, name);
    }

    if (text.find("PRIVATE KEY") != std::string::npos) {
        throw Failure(name + " holds a private key; give its public half (the .pub file)");
    }
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (!line.empty() && line[0] != '#') lines.push_back(line);
    }
    if (lines.empty()) {
        throw Failure("no public key in " + name +
                      " (expected one line \"TYPE BASE64 [COMMENT]\", e.g. id_ed25519.pub)");
    }
    if (lines.size() > 1) {
        throw Failure(name + " holds " + std::to_string(lines.size()) +
                      " keys; add them one at a time");
    }
    auto key = SshPublicKey::parseLine(lines.front());
    if (!key) {
        throw Failure(name + ": not a valid OpenSSH public key: " + key.error());
    }
    return std::move(key).value();
}

}  // namespace portcullis::cli
