# Installation and the .deb (issue 13; docs/operations.md, "Packaging").
#
#   cmake --install build [--prefix DIR]   the files below, under DIR (default /usr/local)
#   make package                           build/valtronics_<version>_<arch>.deb (CPack, DEB)
#
# What is installed, relative to the prefix (GNUInstallDirs):
#   bin/valtronics                              the server and its subcommands
#   etc/valtronics/valtronics.toml              config/valtronics.example.toml   (/etc with /usr)
#   etc/default/valtronics                      VALTRONICS_JWT_SECRET for systemd, mode 0600
#   lib/systemd/system/valtronics.service       packaging/valtronics.service, its paths rewritten
#                                               for the prefix
#   share/doc/valtronics/README.md, docs/...    the documentation
#   share/valtronics/grafana/*.json             the Grafana dashboard
#   share/valtronics/web/...                    the built dashboard (cmake/Web.cmake: the build
#                                               tree's web/, index.html and assets/)
# Nothing else: no tests, no client example, no static library. Every rule is in the component
# "valtronics" and the .deb takes that component alone, so an install rule a dependency might
# bring in (a bundled library's headers or archives) never ends up in the package.

include(GNUInstallDirs)

set(VALTRONICS_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit goes, relative to the prefix (or absolute)")
set(VALTRONICS_PACKAGE_MAINTAINER "Valtronics maintainers <maintainers@valtronics.example>"
    CACHE STRING "Maintainer field of the .deb")
set(VALTRONICS_HOMEPAGE "https://valtronics.example/" CACHE STRING "Homepage field of the .deb")

set(_vt_component valtronics)
set(_vt_pkg ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS valtronics RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${_vt_component})

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ${_vt_component})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT ${_vt_component}
        FILES_MATCHING PATTERN "*.md")

install(DIRECTORY ${_vt_pkg}/grafana/ DESTINATION ${CMAKE_INSTALL_DATADIR}/valtronics/grafana
        COMPONENT ${_vt_component} FILES_MATCHING PATTERN "*.json")

# The dashboard as built (cmake/Web.cmake), never its sources: index.html and the hashed
# assets, without esbuild's source maps. `valtronics serve` finds it there when server.web_root
# is empty (api/static_files.hpp).
install(DIRECTORY ${VALTRONICS_WEB_DIR}/ DESTINATION ${CMAKE_INSTALL_DATADIR}/valtronics/web
        COMPONENT ${_vt_component} PATTERN "*.map" EXCLUDE)

# The files under etc/ and the unit are installed by code run at install time, because their
# places depend on the prefix given then (`cmake --install --prefix`, and CPack's /usr), not on
# the one configured: GNUInstallDirs puts etc/ at /etc for the prefix /usr (and / ) and under
# the prefix otherwise, and the unit must name the binary and the configuration where they were
# actually installed. file(INSTALL) honours DESTDIR (CPack installs the .deb's tree that way).
set(_vt_install_code [=[
  set(_vt_prefix "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/+$" "" _vt_prefix "${_vt_prefix}")
  # GNUInstallDirs' rule for SYSCONFDIR, applied to the prefix of this install.
  set(_vt_etc "@CMAKE_INSTALL_SYSCONFDIR@")
  if(NOT IS_ABSOLUTE "${_vt_etc}")
    if(_vt_prefix STREQUAL "" OR _vt_prefix STREQUAL "/usr")
      set(_vt_etc "/${_vt_etc}")
    else()
      set(_vt_etc "${_vt_prefix}/${_vt_etc}")
    endif()
  endif()
  set(_vt_bin "@CMAKE_INSTALL_BINDIR@")
  if(NOT IS_ABSOLUTE "${_vt_bin}")
    set(_vt_bin "${_vt_prefix}/${_vt_bin}")
  endif()
  set(_vt_doc "@CMAKE_INSTALL_DOCDIR@")
  if(NOT IS_ABSOLUTE "${_vt_doc}")
    set(_vt_doc "${_vt_prefix}/${_vt_doc}")
  endif()
  set(_vt_unitdir "@VALTRONICS_SYSTEMD_UNITDIR@")
  if(NOT IS_ABSOLUTE "${_vt_unitdir}")
    set(_vt_unitdir "${_vt_prefix}/${_vt_unitdir}")
  endif()

  # The example configuration, a conffile in the .deb: a local edit survives upgrades.
  file(INSTALL DESTINATION "${_vt_etc}/valtronics" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       RENAME valtronics.toml FILES "@PROJECT_SOURCE_DIR@/config/valtronics.example.toml")
  # The environment file of the unit: it will hold the JWT secret, so root's alone.
  file(INSTALL DESTINATION "${_vt_etc}/default" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE
       RENAME valtronics FILES "@_vt_pkg@/valtronics.default")

  # The unit, as written for /usr and /etc, with the paths of this install.
  file(READ "@_vt_pkg@/valtronics.service" _vt_unit)
  string(REPLACE "/usr/bin/valtronics" "${_vt_bin}/valtronics" _vt_unit "${_vt_unit}")
  string(REPLACE "/usr/share/doc/valtronics" "${_vt_doc}" _vt_unit "${_vt_unit}")
  string(REPLACE "/etc/valtronics/" "${_vt_etc}/valtronics/" _vt_unit "${_vt_unit}")
  string(REPLACE "/etc/default/valtronics" "${_vt_etc}/default/valtronics" _vt_unit "${_vt_unit}")
  # Staged in the build tree under a name of this install's own (installs to several places
  # may run at once: the packaging tests, make package).
  string(MD5 _vt_stage "$ENV{DESTDIR}|${_vt_unitdir}|${_vt_unit}")
  set(_vt_stage "@PROJECT_BINARY_DIR@/packaging/unit-${_vt_stage}")
  file(WRITE "${_vt_stage}/valtronics.service" "${_vt_unit}")
  file(INSTALL DESTINATION "${_vt_unitdir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${_vt_stage}/valtronics.service")
  file(REMOVE_RECURSE "${_vt_stage}")
]=])
string(CONFIGURE "${_vt_install_code}" _vt_install_code @ONLY)
install(CODE "${_vt_install_code}" COMPONENT ${_vt_component})

# ---- CPack: the .deb ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME valtronics)
set(CPACK_PACKAGE_VENDOR Valtronics)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${VALTRONICS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time WebSocket and REST server for IoT telemetry")
set(CPACK_PACKAGE_DESCRIPTION
    "Devices push telemetry over HTTP, WebSocket or MQTT; dashboards and services connect over
WebSocket, authenticate with a JWT, subscribe to channels (telemetry, alerts, devices, system)
with filters and get every matching update within milliseconds. Devices, alert rules and alerts
are kept in SQLite or PostgreSQL; several nodes form a cluster over NATS. Ships a hardened
systemd unit, an example configuration and a Grafana dashboard of its Prometheus metrics.")
# Only the component above, installed as if to /usr (so /etc files land in /etc).
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};${PROJECT_NAME};${_vt_component};/")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR})

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # valtronics_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VALTRONICS_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${VALTRONICS_HOMEPAGE}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends computed from the binary's shared libraries by dpkg-shlibdeps (dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# /etc files are conffiles (CPack does not mark them by itself), and the maintainer scripts
# reload systemd (packaging/debian/).
file(WRITE ${PROJECT_BINARY_DIR}/packaging/conffiles
     "/etc/valtronics/valtronics.toml\n/etc/default/valtronics\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/conffiles
    ${_vt_pkg}/debian/postinst ${_vt_pkg}/debian/prerm ${_vt_pkg}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# `cpack --config CPackSourceConfig.cmake` (the package_source target): the checkout without
# build trees, git and npm's folders.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/[.]git/" "/build[^/]*/" "/node_modules/" "/__pycache__/")

include(CPack)
