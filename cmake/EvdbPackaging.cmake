# Debian packages (CPack, DEB generator), one per install component, split the
# way Debian splits a library with plugins, all from one `cpack` run:
#
#   component       package                   contents
#   lib             libevdb1                  libevdb.so.1, the (empty) drivers folder
#   dev             libevdb-dev               headers, CMake package, evdb.pc,
#                                             the conformance library and its CMake helper
#   tools           evdb-tools                evdb, evdb-conformance, their man pages
#   driver_<name>   libevdb-driver-<name>     lib/<multiarch>/evdb/drivers/libevdb_driver_<name>.so
#
# Build them with scripts/package (a Release build configured for /usr), or
# `cpack --config <build>/CPackConfig.cmake` in any build configured with
# CMAKE_INSTALL_PREFIX=/usr. Depends on system libraries are computed by
# dpkg-shlibdeps; those between evdb's own packages are written here.
# scripts/test-packages checks them (lintian, and an installed-tree run).

set(EVDB_PACKAGE_MAINTAINER "evdb maintainers <maintainers@evdb.invalid>"
  CACHE STRING "Maintainer field of the Debian packages")
# Packages install where this build was configured to go: the loader's
# compiled-in drivers folder and the multiarch library folder follow
# CMAKE_INSTALL_PREFIX, so only a /usr build makes proper Debian packages.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Debian packages (cpack) need CMAKE_INSTALL_PREFIX=/usr; this build installs to "
                 "${CMAKE_INSTALL_PREFIX} (scripts/package configures a /usr build)")
endif()
if(EVDB_PACKAGE_TESTS AND NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "EVDB_PACKAGE_TESTS needs -DCMAKE_INSTALL_PREFIX=/usr (the packages install "
                      "there); this build is configured for ${CMAKE_INSTALL_PREFIX}")
endif()

# ---- files every package carries: /usr/share/doc/<package>/{copyright,changelog.gz}
set(EVDB_PACKAGE_DIR ${PROJECT_SOURCE_DIR}/packaging)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${EVDB_PACKAGE_DIR}/changelog)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9nc ${EVDB_PACKAGE_DIR}/changelog
  OUTPUT_FILE ${PROJECT_BINARY_DIR}/packaging/changelog.gz RESULT_VARIABLE gzip_rc)
if(NOT gzip_rc EQUAL 0)
  message(FATAL_ERROR "gzip ${EVDB_PACKAGE_DIR}/changelog failed (${gzip_rc})")
endif()

# evdb_package(<component> <package name> <section> <summary> <description>
#              [LINTIAN_OVERRIDES] [DEPENDS ...] [RECOMMENDS ...])
# LINTIAN_OVERRIDES installs packaging/lintian/<package name>.
set(EVDB_PACKAGE_COMPONENTS)
function(evdb_package COMPONENT NAME SECTION SUMMARY DESCRIPTION)
  cmake_parse_arguments(P "LINTIAN_OVERRIDES" "" "DEPENDS;RECOMMENDS" ${ARGN})
  string(TOUPPER ${COMPONENT} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${NAME} PARENT_SCOPE)
  set(CPACK_DEBIAN_${C}_PACKAGE_SECTION ${SECTION} PARENT_SCOPE)
  set(CPACK_DEBIAN_${C}_DESCRIPTION "${SUMMARY}\n${DESCRIPTION}" PARENT_SCOPE)
  string(REPLACE ";" ", " depends "${P_DEPENDS}")
  string(REPLACE ";" ", " recommends "${P_RECOMMENDS}")
  set(CPACK_DEBIAN_${C}_PACKAGE_DEPENDS "${depends}" PARENT_SCOPE)
  set(CPACK_DEBIAN_${C}_PACKAGE_RECOMMENDS "${recommends}" PARENT_SCOPE)
  set(EVDB_PACKAGE_COMPONENTS ${EVDB_PACKAGE_COMPONENTS} ${COMPONENT} PARENT_SCOPE)
  # EXCLUDE_FROM_ALL: only in the packages (cpack installs each component by
  # name), not in a plain `cmake --install`.
  set(doc ${CMAKE_INSTALL_DATADIR}/doc/${NAME})
  install(FILES ${EVDB_PACKAGE_DIR}/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.gz
    DESTINATION ${doc} COMPONENT ${COMPONENT} EXCLUDE_FROM_ALL)
  # Lintian overrides, each explained in the file (packaging/lintian/<package>).
  if(P_LINTIAN_OVERRIDES)
    install(FILES ${EVDB_PACKAGE_DIR}/lintian/${NAME}
      DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${COMPONENT}
      EXCLUDE_FROM_ALL)
  endif()
endfunction()

set(v ${PROJECT_VERSION})
# Descriptions: lines of at most 80 characters (Debian policy), "\n" breaks them.
set(about "evdb gives an application one interface to an append-only event log\n\
(transactions, append with an optimistic version check, reads, projection\n\
versions, a listener for new events) over storage drivers chosen by the\n\
scheme of a connection URI.")
set(any_driver "libevdb-driver-sqlite | libevdb-driver-postgres | libevdb-driver-redis \
| libevdb-driver-memory")

evdb_package(lib libevdb1 libs "event-log database layer with pluggable storage drivers"
  "${about}\n\nThis package holds the shared library libevdb, which loads the drivers\n\
installed in its drivers folder. Install at least one libevdb-driver-* package."
  LINTIAN_OVERRIDES RECOMMENDS "${any_driver}")
# libevdb1's shlibs (what dpkg-shlibdeps writes into the Depends of programs
# linked with libevdb) and its ldconfig trigger.
configure_file(${EVDB_PACKAGE_DIR}/libevdb1.shlibs ${PROJECT_BINARY_DIR}/packaging/lib/shlibs @ONLY)
configure_file(${EVDB_PACKAGE_DIR}/libevdb1.triggers ${PROJECT_BINARY_DIR}/packaging/lib/triggers
  COPYONLY)
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/packaging/lib/shlibs ${PROJECT_BINARY_DIR}/packaging/lib/triggers)
set(dev_depends "libevdb1 (= ${v})")
if(EVDB_BUILD_CONFORMANCE)
  # The conformance library's CMake targets name GTest::gtest and simdjson::simdjson.
  list(APPEND dev_depends libgtest-dev libsimdjson-dev)
endif()
evdb_package(dev libevdb-dev libdevel "event-log database layer - development files"
  "${about}\n\nThis package holds the C and C++ headers (evdb/evdb.h, evdb/driver.h,\n\
evdb/evdb.hpp), the CMake package (find_package(evdb)), evdb.pc for\n\
pkg-config, and the conformance suite as a library with its CMake helper\n\
evdb_add_conformance_test() for authors of drivers."
  DEPENDS ${dev_depends})
if(EVDB_BUILD_TOOLS OR EVDB_BUILD_CONFORMANCE)
  evdb_package(tools evdb-tools database "event-log database layer - command-line tools"
    "${about}\n\nThis package holds evdb, which reads and writes event logs from the\n\
shell (head, append, read, tail, projection, drivers), and evdb-conformance,\n\
which checks any evdb driver against the contract."
    DEPENDS "libevdb1 (>= ${v})" RECOMMENDS "${any_driver}")
endif()
set(driver_summary_memory "in-process memory")
set(driver_summary_sqlite "SQLite")
set(driver_summary_postgres "PostgreSQL")
set(driver_summary_redis "Redis Streams")
set(driver_uri_memory "memory: and memory:NAME")
set(driver_uri_sqlite "sqlite:///path/to/file.db")
set(driver_uri_postgres "postgres://user@host/db")
set(driver_uri_redis "redis://host:6379")
foreach(d memory sqlite postgres redis)
  string(TOUPPER ${d} D)
  if(EVDB_DRIVER_${D})
    evdb_package(driver_${d} libevdb-driver-${d} libs
      "event-log database layer - ${driver_summary_${d}} driver"
      "${about}\n\nThis package holds the ${driver_summary_${d}} driver, which libevdb\n\
loads for URIs such as ${driver_uri_${d}}."
      DEPENDS "libevdb1 (>= ${v})")
  endif()
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${EVDB_PACKAGE_COMPONENTS})
set(CPACK_PACKAGE_NAME evdb)
set(CPACK_PACKAGE_VENDOR "the evdb authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${EVDB_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libevdb.so.1 (needed by the tools) in the build tree; the
# Depends on libevdb1 is written above.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/${CMAKE_INSTALL_LIBDIR})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

# The packages test: cpack on this tree, lintian on every package, and the
# packages unpacked into a temporary root and used from there.
if(EVDB_PACKAGE_TESTS AND EVDB_BUILD_TESTS)
  add_test(NAME packages COMMAND ${PROJECT_SOURCE_DIR}/scripts/test-packages ${PROJECT_BINARY_DIR})
  set_tests_properties(packages PROPERTIES LABELS packages TIMEOUT 900)
endif()
