#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace ballast::kube {

// Kubernetes resource.Quantity text, one grammar for every component:
//   quantity ::= [+|-] number suffix     number ::= digits | digits.digits | digits. | .digits
//   suffix   ::= "" | Ki Mi Gi Ti Pi Ei (binary SI) | n u m k M G T P E (decimal SI)
//              | e<signed int> | E<signed int> (decimal exponent; "E" alone is exa)
// parsed exactly (no floating point) into an integer. Fractions round up, as the
// apiserver does when it canonicalises a quantity.
//   parse_milli("250m") == 250, parse_milli("2") == 2000   (CPU: millicores)
//   parse_units("8Gi") == 8589934592, parse_units("1.5k") == 1500  (memory: bytes, pods)
// Negative quantities, exponents beyond ±100 and values beyond int64 are errors whose
// message starts with `invalid quantity "<text>"`.
Result<int64_t> parse_milli(std::string_view text);
Result<int64_t> parse_units(std::string_view text);

// The grammar alone, for a resource request or limit: true when `text` is a quantity
// that is not negative (its magnitude is not checked beyond the exponent limit).
bool is_valid_quantity(std::string_view text);

}  // namespace ballast::kube
