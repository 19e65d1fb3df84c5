#pragma once
// Destination host names as a client may ask the gateway to reach them
// (direct-tcpip): a DNS name, an IPv4 address or an IPv6 address, whole and
// exactly as given. Anything else is refused, never cut or cleaned up: a
// destination that was shortened would be a different host.
#include <string_view>

namespace portcullis {

// RFC 1123 names (labels of 1-63 letters, digits, '-' or '_', not starting or
// ending with '-'; at most 253 characters), or an address inet_pton accepts.
bool isValidHostName(std::string_view host);

}  // namespace portcullis
