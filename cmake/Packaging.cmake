# cmake/Packaging.cmake: install rules for what is not a build target (systemd
# units and snippets, documentation, man pages) and the Debian package (CPack,
# `scripts/package`). The programs' own install rules live next to them:
#   portcullis, portcullisd      -> PREFIX/bin  (the unit runs PREFIX/bin/portcullisd)
#   pam_portcullis.so            -> the directory holding pam_unix.so
#   portcullisd.conf.example     -> PREFIX/share/doc/portcullis (not /etc: no conffile
#                                   for an upgrade to overwrite)
# Nothing is installed under /etc or /var/lib: the state directory is made by the
# tmpfiles.d snippet (and `portcullis init`), the configuration by the operator.
include(GNUInstallDirs)

# Relative to the prefix: /usr/lib/systemd/system for the package (the same
# directory as /lib/systemd/system on Debian 12's merged /usr), and
# /usr/local/lib/systemd/system for a default `cmake --install`; systemd reads both.
set(PORTCULLIS_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where portcullisd.service is installed (relative: under the install prefix)")
set(PORTCULLIS_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d snippet is installed (relative: under the install prefix)")
set(PORTCULLIS_TMPFILES_DIR "lib/tmpfiles.d" CACHE STRING
    "Where the tmpfiles.d snippet is installed (relative: under the install prefix)")

# ---- systemd -----------------------------------------------------------------
# The unit names /usr/bin/portcullisd; installed, it names the daemon where this
# install put it (PREFIX/bin), decided at install time so that `--prefix` works.
set(portcullis_unit_src ${PROJECT_SOURCE_DIR}/systemd/portcullisd.service)
install(CODE "
  set(unit_dir \"${PORTCULLIS_SYSTEMD_UNIT_DIR}\")
  if(NOT IS_ABSOLUTE \"\${unit_dir}\")
    set(unit_dir \"\${CMAKE_INSTALL_PREFIX}/\${unit_dir}\")
  endif()
  file(READ \"${portcullis_unit_src}\" unit_text)
  string(REPLACE \"ExecStart=/usr/bin/portcullisd\"
                 \"ExecStart=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/portcullisd\"
                 unit_text \"\${unit_text}\")
  set(unit_file \"\$ENV{DESTDIR}\${unit_dir}/portcullisd.service\")
  message(STATUS \"Installing: \${unit_file}\")
  file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${unit_dir}\")
  file(WRITE \"\${unit_file}\" \"\${unit_text}\")
  file(CHMOD \"\${unit_file}\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${unit_dir}/portcullisd.service\")
")
install(FILES ${PROJECT_SOURCE_DIR}/systemd/portcullis.sysusers
        DESTINATION ${PORTCULLIS_SYSUSERS_DIR} RENAME portcullis.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/portcullis.tmpfiles
        DESTINATION ${PORTCULLIS_TMPFILES_DIR} RENAME portcullis.conf)

# ---- documentation -------------------------------------------------------------
file(GLOB portcullis_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${portcullis_docs}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- man pages (hand-written roff in man/, installed gzipped as Debian does) ----
# @PROJECT_VERSION@ in a page's .TH line becomes the project's version.
find_program(GZIP_PROGRAM gzip REQUIRED)
set(portcullis_man_pages portcullis.1 portcullisd.8 pam_portcullis.8)
set(portcullis_man_outputs "")
foreach(page ${portcullis_man_pages})
  set(src ${PROJECT_BINARY_DIR}/man/${page})
  configure_file(${PROJECT_SOURCE_DIR}/man/${page} ${src} @ONLY)
  set(out ${PROJECT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${GZIP_PROGRAM} -9nc ${src} > ${out}
    DEPENDS ${src}
    COMMENT "Compressing man page ${page}"
    VERBATIM)
  list(APPEND portcullis_man_outputs ${out})
  string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${page})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${portcullis_man_outputs})

# ---- Debian package (cpack -G DEB; scripts/package) ------------------------------
set(PORTCULLIS_PACKAGE_MAINTAINER "Portcullis maintainers <portcullis@localhost>" CACHE STRING
    "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portcullis)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PORTCULLIS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "privileged-access SSH gateway with TOTP, per-user grants and session recording")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # portcullis_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PORTCULLIS_PACKAGE_MAINTAINER}")
# The long description (CPack puts the summary above it).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Portcullis guards one sensitive host. portcullisd is an SSH jump proxy: admins
connect with a stock OpenSSH client, prove a registered public key and a TOTP
code, and reach only the targets and logins their grant allows, for a limited
time; every session is recorded. pam_portcullis.so asks for the same TOTP code
on direct logins (console, sshd, su, sudo). portcullis is the admin command
line: accounts, keys, TOTP enrollment, targets, grants, session review and the
hash-chained audit log.
.
The package creates the portcullis system user and /var/lib/portcullis; it
does not enable or start portcullisd: run `portcullis init` first.")
# libssh, libsqlite3, liboath, libpam, libqrencode, libssl... from the binaries.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts' fallbacks: systemd-sysusers/-tmpfiles, else adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser")
# sqlite3 for online backups (`.backup`), ssh for connecting, oathtool for checks.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "openssh-client, oathtool, asciinema, pamtester")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
    ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
