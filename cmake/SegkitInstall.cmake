include(CMakePackageConfigHelpers)

install(TARGETS segkit segkit_opencv EXPORT segkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS segkit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/segkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT segkitTargets NAMESPACE segkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/segkit)

configure_package_config_file(cmake/segkitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/segkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/segkit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/segkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/segkitConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/segkitConfigVersion.cmake
  cmake/FindSegkitOpenCV.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/segkit)
