#include "admin_cli/terminal_prompt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "common/unique_fd.hpp"

namespace portcullis::cli {
std::optional<bool> askYesNo(const std::string& question) {
    UniqueFd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (tty.get() < 0) return std::nullopt;
    const std::string prompt = question + " [y/N] ";
    if (::write(tty.get(), prompt.data(), prompt.size()) < 0) return std::nullopt;
    std::string answer;
    char c = 0;
    while (answer.size() < 64) {
        const ssize_t n = ::read(tty.get(), &c, 1);
        if (n <= 0 || c == '\n') break;
        answer += c;
    }
    std::transform(answer.begin(), answer.end(), answer.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    answer.erase(std::remove_if(answer.begin(), answer.end(),
                                [](unsigned char ch) { return std::isspace(ch); }),
                 answer.end());
    return answer == "y" || answer == "yes";
}

}  // namespace portcullis::cli
