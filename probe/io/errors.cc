#include "probe/io/errors.h"

namespace portpath::io {

MissingCapability::MissingCapability(const std::string& capability, const std::string& needed_for)
    : std::runtime_error("missing capability " + capability + " (needed to " + needed_for +
                         "). Run as root, or grant it to the binary: sudo setcap cap_net_raw+ep "
                         "$(command -v portpath); "
                         "in Kubernetes add to the container: securityContext: {capabilities: "
                         "{add: [\"NET_RAW\"]}}"),
      capability_(capability) {}

}  // namespace portpath::io
