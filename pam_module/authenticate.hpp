#pragma once
// The pam_sm_authenticate logic (SPEC §9): resolve the Portcullis account,
// prompt for the code, check it with db::OtpGuard (the gateway's own check,
// sharing replay and lock-out state through the store), audit `pam.auth`.
// Returns a PAM status; fails closed. May throw: the C entry point catches.
#include <security/pam_modules.h>

#include "pam_module/log.hpp"
#include "pam_module/options.hpp"

namespace portcullis::pam {

int authenticate(pam_handle_t* pamh, const ModuleOptions& options, const Log& log);

}  // namespace portcullis::pam
