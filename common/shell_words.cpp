#include "common/shell_words.hpp"

namespace portcullis {

Result<std::vector<std::string>> splitShellWords(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool inWord = false;
    enum class Quote { none, single, dbl } quote = Quote::none;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        switch (quote) {
            case Quote::single:
                if (c == '\'')
                    quote = Quote::none;
                else
                    word += c;
                continue;
            case Quote::dbl:
                if (c == '"') {
                    quote = Quote::none;
                } else if (c == '\\' && i + 1 < line.size() &&
                           std::string_view("\"\\$`\n").find(line[i + 1]) !=
                               std::string_view::npos) {
                    if (line[++i] != '\n') word += line[i];
                } else {
                    word += c;
                }
                continue;
            case Quote::none:
                break;
        }
        if (c == ' ' || c == '\t' || c == '\n') {
            if (inWord) words.push_back(std::move(word));
            word.clear();
            inWord = false;
            continue;
        }
        inWord = true;
        if (c == '\'') {
            quote = Quote::single;
        } else if (c == '"') {
            quote = Quote::dbl;
        } else if (c == '\\') {
            if (i + 1 >= line.size()) return makeError("the command line ends in a backslash");
            if (line[++i] != '\n') word += line[i];
        } else {
            word += c;
        }
    }
    if (quote != Quote::none)
        return makeError(std::string("unterminated ") +
                         (quote == Quote::single ? "single" : "double") + " quote");
    if (inWord) words.push_back(std::move(word));
    return words;
}

}  // namespace portcullis
