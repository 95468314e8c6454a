# Man pages of the installed programs, made by help2man from each program's
# own --help, so the page can never disagree with the program. Built with the
# programs (target evdb_man_pages, part of "all") and installed with the tools
# component as share/man/man1/<program>.1.gz.
if(NOT EVDB_BUILD_MAN)
  return()
endif()
find_program(EVDB_HELP2MAN help2man)
if(NOT EVDB_HELP2MAN)
  message(FATAL_ERROR "EVDB_BUILD_MAN needs help2man (Debian package help2man): install it "
                      "(scripts/install-deps) or configure with -DEVDB_BUILD_MAN=OFF")
endif()
find_program(EVDB_GZIP gzip REQUIRED)

set(EVDB_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(evdb_man_pages)
# evdb_man_page(<target> <program name> <one-line description>)
function(evdb_man_page TARGET PROGRAM SUMMARY)
  set(page ${EVDB_MAN_DIR}/${PROGRAM}.1)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${EVDB_MAN_DIR}
    # C.UTF-8: the help texts hold UTF-8 (help2man would turn it into "???").
    COMMAND ${EVDB_HELP2MAN} --no-info --no-discard-stderr --section=1 --locale=C.UTF-8
            --version-string=${PROJECT_VERSION} --name=${SUMMARY} --output=${page}
            $<TARGET_FILE:${TARGET}>
    # -n: no name or time stamp in the archive (reproducible, as Debian asks).
    COMMAND ${EVDB_GZIP} -9nf ${page}
    DEPENDS ${TARGET}
    COMMENT "Man page ${PROGRAM}.1 (help2man ${PROGRAM} --help)"
    VERBATIM)
  set(evdb_man_pages ${evdb_man_pages} ${page}.gz PARENT_SCOPE)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
endfunction()

if(TARGET evdb_cli)
  evdb_man_page(evdb_cli evdb "read and write evdb event logs from the shell")
endif()
if(TARGET evdb-conformance)
  evdb_man_page(evdb-conformance evdb-conformance "check an evdb driver against the contract")
endif()
if(TARGET evdb-stress)
  evdb_man_page(evdb-stress evdb-stress "kill writers mid-transaction and check the log afterwards")
endif()
if(evdb_man_pages)
  add_custom_target(evdb_man_pages ALL DEPENDS ${evdb_man_pages})
endif()
