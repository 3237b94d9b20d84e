//! TEMPORARY STUB (being replaced by the real module).
use crate::error::InputError;
use crate::inventory::Inventory;
use std::borrow::Cow;
use std::path::Path;
pub struct WriteOptions {
    pub keys_only: bool,
}
pub fn write_report<W: std::io::Write>(
    _inv: &Inventory,
    _o: &WriteOptions,
    _w: W,
) -> std::io::Result<()> {
    Ok(())
}
pub fn write_events<W: std::io::Write>(_inv: &Inventory, _w: W) -> std::io::Result<()> {
    Ok(())
}
pub fn write_root<W: std::io::Write>(_inv: &Inventory, _w: W) -> std::io::Result<()> {
    Ok(())
}
pub fn read_report(path: &Path, _b: &[u8]) -> Result<Inventory, InputError> {
    Err(InputError::new(path, "stub"))
}
pub fn read_events(_p: &Path, _b: &[u8], _i: &mut Inventory) -> Result<(), InputError> {
    Ok(())
}
pub fn read_root(_p: &Path, _b: &[u8], _i: &mut Inventory) -> Result<(), InputError> {
    Ok(())
}
pub fn neutralize(c: &str) -> Cow<'_, str> {
    Cow::Borrowed(c)
}
