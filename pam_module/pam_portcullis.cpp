// The C ABI of pam_portcullis.so: the two entry points Linux-PAM calls for the
// `auth` facility. No exception crosses this boundary; anything unexpected denies.
#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include <exception>
#include <new>
#include <string>

#include "pam_module/authenticate.hpp"
#include "pam_module/log.hpp"
#include "pam_module/options.hpp"

namespace portcullis::pam {
namespace {

int authenticateEntry(pam_handle_t* pamh, int argc, const char** argv) noexcept {
    int rc = PAM_AUTH_ERR;
    if (pamh == nullptr) return rc;
    Log log(pamh, false);
    try {
        auto options = parseOptions(argc, argv);
        if (!options) {
            log.write(LOG_ERR, "bad configuration: " + options.error() + ": denying");
            return PAM_SERVICE_ERR;
        }
        log.setDebug(options->debug);
        rc = authenticate(pamh, *options, log);
    } catch (const std::bad_alloc&) {
        rc = PAM_BUF_ERR;
        log.denial(LOG_CRIT, "out of memory", "std::bad_alloc");
    } catch (const std::exception& e) {
        rc = PAM_AUTH_ERR;
        log.denial(LOG_ERR, "internal error", e.what());
    } catch (...) {
        rc = PAM_AUTH_ERR;
        log.denial(LOG_ERR, "internal error", "unknown exception");
    }
    // Fail closed on any unexpected status a future change might produce.
    if (rc != PAM_SUCCESS && rc != PAM_AUTHINFO_UNAVAIL && rc != PAM_SERVICE_ERR &&
        rc != PAM_CONV_ERR && rc != PAM_BUF_ERR) {
        rc = PAM_AUTH_ERR;
    }
    return rc;
}

}  // namespace
}  // namespace portcullis::pam

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
    (void)flags;
    return portcullis::pam::authenticateEntry(pamh, argc, argv);
}

// The module sets no credentials; it only has to let the stack's setcred pass.
__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* pamh, int flags, int argc,
                                                          const char** argv) {
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}

}  // extern "C"
