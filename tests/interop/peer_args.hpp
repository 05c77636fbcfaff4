// peer_args.hpp — command-line pieces shared by duplex_peer_client and duplex_peer_server.
#pragma once

#include <duplex/core/deflate_negotiation.hpp>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace interop {

/// "a,b,c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const std::size_t comma = s.find(',');
        out.emplace_back(s.substr(0, comma));
        if (comma == std::string_view::npos)
            break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

/// "server_max_window_bits=9,client_no_context_takeover" -> parameters; false if malformed.
/// A bare client_max_window_bits (any_window_bits) is allowed only when `bare_client_bits`.
inline bool parse_deflate_params(std::string_view text, bool bare_client_bits, duplex::deflate_parameters& p) {
    for (const std::string& item : split_list(text)) {
        const std::size_t eq = item.find('=');
        const std::string name = item.substr(0, eq);
        const int bits = eq == std::string::npos ? 0 : static_cast<int>(std::strtol(item.c_str() + eq + 1, nullptr, 10));
        if (eq != std::string::npos && (bits < 8 || bits > 15))
            return false;
        if (name == "server_no_context_takeover" && eq == std::string::npos)
            p.server_no_context_takeover = true;
        else if (name == "client_no_context_takeover" && eq == std::string::npos)
            p.client_no_context_takeover = true;
        else if (name == "server_max_window_bits" && bits != 0)
            p.server_max_window_bits = bits;
        else if (name == "client_max_window_bits" && (bits != 0 || bare_client_bits))
            p.client_max_window_bits = bits != 0 ? bits : duplex::any_window_bits;
        else
            return false;
    }
    return true;
}

} // namespace interop
