//! ukg
