// Helpers shared by the handshake tests: an HTTP head as a list of lines that a test can edit.
#pragma once

#include <string>
#include <vector>

namespace head_lines {

// The lines joined with CRLF, ending with the blank line.
inline std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
        out += l + "\r\n";
    return out + "\r\n";
}

// Replaces the first line starting with `prefix`, removes it when `line` is empty, or appends
// `line` when no line starts with `prefix`.
inline std::vector<std::string> with(std::vector<std::string> lines, const std::string& prefix,
                                     const std::string& line) {
    for (auto it = lines.begin(); it != lines.end(); ++it) {
        if (it->compare(0, prefix.size(), prefix) == 0) {
            if (line.empty())
                lines.erase(it);
            else
                *it = line;
            return lines;
        }
    }
    lines.push_back(line);
    return lines;
}

} // namespace head_lines
