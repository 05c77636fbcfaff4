// duplex — permessage-deflate negotiation (RFC 7692 §5, §7.1), without zlib: parse and check
// offers and responses, choose a server's answer, build a client's offers.
// SPDX-License-Identifier: MIT
#pragma once

#include <duplex/core/handshake.hpp>
#include <duplex/core/http.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace duplex {

/// The extension's registered name.
inline constexpr std::string_view deflate_extension_name = "permessage-deflate";

/// client_max_window_bits in an offer without a value: "I can limit my window; tell me how".
inline constexpr int any_window_bits = -1;

/// The four parameters of one permessage-deflate offer or response (RFC 7692 §7.1). A window
/// size of 0 means the parameter is absent; otherwise it is 8..15 (or any_window_bits for
/// client_max_window_bits in an offer).
struct deflate_parameters {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 0;
    int client_max_window_bits = 0;
};

/// What both ends agreed on (RFC 7692 §7.1), resolved: every window size is 8..15.
struct deflate_agreement {
    bool server_no_context_takeover = false; // the server resets its compressor after each message
    bool client_no_context_takeover = false; // the client does
    int server_max_window_bits = 15;         // the server compresses with at most this window
    int client_max_window_bits = 15;         // the client does
};

/// permessage-deflate settings for both roles. Out-of-range numbers are clamped.
struct deflate_options {
    // ---- Client: what to offer, most preferred first. The default offers client_max_window_bits
    // without a value, so that a server may ask for a smaller window.
    std::vector<deflate_parameters> offers{deflate_parameters{false, false, 0, any_window_bits}};

    // ---- Server: how to answer the first acceptable offer.
    bool server_no_context_takeover = false; // answer with it even if not asked for
    bool client_no_context_takeover = false; // ask the client for it
    int server_max_window_bits = 15;         // 8..15: our compressor's window, at most
    int client_max_window_bits = 15;         // 8..15: asked of a client that offered the parameter

    // ---- Both: compression.
    int compression_level = 6;          // 0..9 (zlib): 1 fastest, 9 smallest output
    int memory_level = 8;               // 1..9 (zlib memLevel): compressor state, 2^(level+9) bytes
    std::size_t compress_threshold = 0; // messages smaller than this go out uncompressed
};

namespace detail {

// A window size value: exactly "8".."15", no sign, no leading zero (RFC 7692 §7.1.2).
inline int parse_window_bits(std::string_view v) noexcept {
    if (v.size() == 1 && (v[0] == '8' || v[0] == '9'))
        return v[0] - '0';
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + (v[1] - '0');
    return 0;
}

inline int clamp_window_bits(int bits) noexcept { return std::clamp(bits, 8, 15); }

// Parses one element's parameters; `offer` decides whether client_max_window_bits may lack a
// value. False for an unknown or repeated parameter or an invalid value (RFC 7692 §5, §7.1).
inline bool parse_deflate_element(const extension_offer& e, deflate_parameters& out, bool offer) {
    out = deflate_parameters{};
    if (!iequals(e.name, deflate_extension_name))
        return false;
    bool seen[4] = {false, false, false, false};
    for (const auto& p : e.params) {
        int which = -1;
        if (iequals(p.name, "server_no_context_takeover"))
            which = 0;
        else if (iequals(p.name, "client_no_context_takeover"))
            which = 1;
        else if (iequals(p.name, "server_max_window_bits"))
            which = 2;
        else if (iequals(p.name, "client_max_window_bits"))
            which = 3;
        if (which < 0 || seen[which])
            return false;
        seen[which] = true;
        switch (which) {
        case 0:
        case 1:
            if (p.has_value)
                return false; // these take no value
            (which == 0 ? out.server_no_context_takeover : out.client_no_context_takeover) = true;
            break;
        case 2:
            if (!p.has_value || (out.server_max_window_bits = parse_window_bits(p.value)) == 0)
                return false;
            break;
        default:
            if (!p.has_value) {
                if (!offer)
                    return false; // a response must say which size
                out.client_max_window_bits = any_window_bits;
            } else if ((out.client_max_window_bits = parse_window_bits(p.value)) == 0) {
                return false;
            }
            break;
        }
    }
    return true;
}

inline void add_param(extension_offer& e, std::string_view name, int bits = 0) {
    extension_param p;
    p.name = std::string(name);
    if (bits > 0) {
        p.value = std::to_string(bits);
        p.has_value = true;
    }
    e.params.push_back(std::move(p));
}

} // namespace detail

/// Reads a permessage-deflate element as a client's offer. False (the server must decline it)
/// for another extension, an unknown or repeated parameter, or an invalid value (RFC 7692 §7.1).
inline bool parse_deflate_offer(const extension_offer& e, deflate_parameters& out) {
    return detail::parse_deflate_element(e, out, true);
}

/// Reads a permessage-deflate element as a server's response: as an offer, except that
/// client_max_window_bits needs a value. False: the client must fail the connection.
inline bool parse_deflate_response(const extension_offer& e, deflate_parameters& out) {
    return detail::parse_deflate_element(e, out, false);
}

/// Formats parameters as one permessage-deflate element.
inline extension_offer deflate_element(const deflate_parameters& p) {
    extension_offer e;
    e.name = std::string(deflate_extension_name);
    if (p.server_no_context_takeover)
        detail::add_param(e, "server_no_context_takeover");
    if (p.client_no_context_takeover)
        detail::add_param(e, "client_no_context_takeover");
    if (p.server_max_window_bits > 0)
        detail::add_param(e, "server_max_window_bits", detail::clamp_window_bits(p.server_max_window_bits));
    if (p.client_max_window_bits == any_window_bits)
        detail::add_param(e, "client_max_window_bits");
    else if (p.client_max_window_bits > 0)
        detail::add_param(e, "client_max_window_bits", detail::clamp_window_bits(p.client_max_window_bits));
    return e;
}

/// Server: answers the first acceptable permessage-deflate offer among `offers` (in the
/// client's order of preference; other extensions are skipped, invalid offers declined) with
/// the response element, and fills `agreed`. Returns an empty string if none is acceptable.
/// The answer honours what the offer asks (RFC 7692 §7.1.1, §7.1.2) and adds what `o` asks.
inline std::string negotiate_deflate(const std::vector<extension_offer>& offers, const deflate_options& o,
                                     deflate_agreement& agreed) {
    for (const auto& e : offers) {
        deflate_parameters p;
        if (!parse_deflate_offer(e, p))
            continue;
        deflate_parameters answer;
        answer.server_no_context_takeover = p.server_no_context_takeover || o.server_no_context_takeover;
        answer.client_no_context_takeover = p.client_no_context_takeover || o.client_no_context_takeover;
        int server_bits = detail::clamp_window_bits(o.server_max_window_bits);
        if (p.server_max_window_bits > 0)
            server_bits = std::min(server_bits, p.server_max_window_bits);
        if (p.server_max_window_bits > 0 || server_bits < 15)
            answer.server_max_window_bits = server_bits; // must answer an offered limit
        int client_bits = 15;
        if (p.client_max_window_bits != 0) { // we may only limit a client that offered it
            client_bits = detail::clamp_window_bits(o.client_max_window_bits);
            if (p.client_max_window_bits > 0)
                client_bits = std::min(client_bits, p.client_max_window_bits);
            if (client_bits < 15)
                answer.client_max_window_bits = client_bits;
        }
        agreed.server_no_context_takeover = answer.server_no_context_takeover;
        agreed.client_no_context_takeover = answer.client_no_context_takeover;
        agreed.server_max_window_bits = server_bits;
        agreed.client_max_window_bits = client_bits;
        return format_extensions({deflate_element(answer)});
    }
    return {};
}

/// Client: the offers to put in Sec-WebSocket-Extensions, from o.offers, in order.
inline std::vector<extension_offer> deflate_offers(const deflate_options& o) {
    std::vector<extension_offer> out;
    for (const auto& p : o.offers)
        out.push_back(deflate_element(p));
    return out;
}

/// Client: checks a response element against the offers (RFC 7692 §7.1): valid parameters,
/// and some offer it answers (an offered server_max_window_bits or server_no_context_takeover
/// answered, no client_max_window_bits that was not offered or is larger than offered). True
/// and `agreed` filled if acceptable; false: the client must fail the connection.
inline bool accept_deflate_response(const extension_offer& response, const deflate_options& o,
                                    deflate_agreement& agreed) {
    deflate_parameters r;
    if (!parse_deflate_response(response, r))
        return false;
    for (deflate_parameters p : o.offers) {
        if (p.server_max_window_bits > 0) // as deflate_element sent it
            p.server_max_window_bits = detail::clamp_window_bits(p.server_max_window_bits);
        if (p.client_max_window_bits > 0)
            p.client_max_window_bits = detail::clamp_window_bits(p.client_max_window_bits);
        if (p.server_no_context_takeover && !r.server_no_context_takeover)
            continue;
        if (p.server_max_window_bits > 0 &&
            (r.server_max_window_bits == 0 || r.server_max_window_bits > p.server_max_window_bits))
            continue;
        if (r.client_max_window_bits > 0 &&
            (p.client_max_window_bits == 0 ||
             (p.client_max_window_bits > 0 && r.client_max_window_bits > p.client_max_window_bits)))
            continue;
        agreed.server_no_context_takeover = r.server_no_context_takeover;
        // An offered client_no_context_takeover is a promise, even if not echoed (§7.1.1.2).
        agreed.client_no_context_takeover = r.client_no_context_takeover || p.client_no_context_takeover;
        agreed.server_max_window_bits = r.server_max_window_bits > 0 ? r.server_max_window_bits : 15;
        int client_bits = r.client_max_window_bits > 0 ? r.client_max_window_bits : 15;
        if (p.client_max_window_bits > 0) // the size we offered to keep to
            client_bits = std::min(client_bits, p.client_max_window_bits);
        agreed.client_max_window_bits = client_bits;
        return true;
    }
    return false;
}

} // namespace duplex
