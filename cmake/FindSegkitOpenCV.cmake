# OpenCV's CMake config ships only with the full libopencv-dev; we need three modules,
# so fall back to locating them directly when the config is absent.
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
if(OpenCV_FOUND)
  add_library(segkit_opencv INTERFACE)
  target_include_directories(segkit_opencv INTERFACE ${OpenCV_INCLUDE_DIRS})
  target_link_libraries(segkit_opencv INTERFACE ${OpenCV_LIBS})
else()
  find_path(SEGKIT_OPENCV_INCLUDE_DIR opencv2/imgcodecs.hpp PATH_SUFFIXES opencv4 REQUIRED)
  foreach(m core imgproc imgcodecs)
    find_library(SEGKIT_OPENCV_${m} NAMES opencv_${m} REQUIRED)
  endforeach()
  add_library(segkit_opencv INTERFACE)
  target_include_directories(segkit_opencv INTERFACE ${SEGKIT_OPENCV_INCLUDE_DIR})
  target_link_libraries(segkit_opencv INTERFACE
    ${SEGKIT_OPENCV_imgcodecs} ${SEGKIT_OPENCV_imgproc} ${SEGKIT_OPENCV_core})
endif()
