# A small NixOS host: an SSH server with a few tools, ready to run lightweight containers.
# The README's demo copies this file and adds containers to it with `nixgen add-container`.
{ config, pkgs, lib, ... }:

{
  networking.hostName = "tinyhost";
  networking.firewall.allowedTCPPorts = [ 22 ];

  time.timeZone = "Europe/Amsterdam";
  i18n.defaultLocale = "en_US.UTF-8";

  # Remote administration.
  services.openssh.enable = true;
  services.openssh.ports = [ 22 ];

  users.users.admin = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyJ3rR4n1+examplekeyonlyforthedemo admin@laptop"
    ];
  };

  environment.systemPackages = with pkgs; [
    vim
    git
    htop
  ];

  system.stateVersion = "23.11";
}
